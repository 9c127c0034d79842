"""What cliptrail makes of a probe's report, and the limits on what it takes (pure rules;
real files are probed in tests/integration/test_probe_video.py)."""

from __future__ import annotations

from typing import Any

import pytest

from libs.media.limits import MediaLimits, VideoLimitError, check_limits
from libs.media.probe import MediaInfo, NotAVideoError, media_info, require_storable

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
LIMITS = MediaLimits(3840, 2160, 4 * 3600.0)


def report(**changes: Any) -> dict[str, Any]:
    """What the worker prints for a 62.5 s 1280x720 H.264 MP4 with audio."""
    base = {"format": MP4, "duration": 62.5, "codec": "h264", "width": 1280, "height": 720}
    return base | {"rotation": 0, "fps": 25.0, "has_audio": True} | changes


def test_an_mp4_gives_container_size_duration_and_content_type() -> None:
    info = media_info(report())
    assert info == MediaInfo(62.5, 1280, 720, "h264", 25.0, True, MP4, "mp4", 0)
    assert info.content_type == "video/mp4"


@pytest.mark.parametrize(
    ("hint", "extension", "content_type"),
    [("mov", "mov", "video/quicktime"), ("m4v", "m4v", "video/x-m4v"), ("mkv", "mp4", "video/mp4")],
)
def test_mp4_family_keeps_a_matching_hint_only(
    hint: str, extension: str, content_type: str
) -> None:
    info = media_info(report(), hint_extension=hint)
    assert (info.extension, info.content_type) == (extension, content_type)


def test_matroska_is_stored_as_mkv_or_webm() -> None:
    matroska = report(format="matroska,webm")
    assert media_info(matroska).content_type == "video/x-matroska"
    assert media_info(matroska, hint_extension="webm").content_type == "video/webm"


@pytest.mark.parametrize("rotation", [90, -90, 270, 89.9])
def test_a_quarter_turn_swaps_width_and_height(rotation: float) -> None:
    info = media_info(report(rotation=rotation))
    assert (info.width, info.height) == (720, 1280)


def test_a_half_turn_keeps_the_size_and_a_missing_rate_means_25_fps() -> None:
    info = media_info(report(rotation=180, fps=0.0))
    assert (info.width, info.height, info.fps, info.rotation) == (1280, 720, 25.0, 180)


def test_an_unsupported_container_is_named_in_the_error() -> None:
    info = media_info(report(format="mpegts"))
    assert info.extension == ""
    with pytest.raises(NotAVideoError, match="mpegts"):
        require_storable(info)


def test_within_the_limits_passes() -> None:
    check_limits(MediaInfo(14400.0, 3840, 2160, "h264", 240.0, True), LIMITS)
    check_limits(MediaInfo(60.0, 2160, 3840, "h264", 30.0, True), LIMITS)  # the same area


@pytest.mark.parametrize(
    ("info", "figures"),
    [
        (MediaInfo(60.0, 8192, 8192, "h264", 25.0, True), "8192x8192 is above the limit of "
         "3840x2160 pixels"),
        (MediaInfo(60.0, 3842, 2160, "h264", 25.0, True), "3842x2160 is above"),
        (MediaInfo(14401.0, 320, 240, "h264", 25.0, True), "14401 s is above the limit of 14400 s"),
        (MediaInfo(1.0, 320, 240, "h264", 250.0, True), "250 fps is above the limit of 240 fps"),
    ],
)  # fmt: skip
def test_past_any_limit_is_refused_with_the_figures(info: MediaInfo, figures: str) -> None:
    with pytest.raises(VideoLimitError, match=figures):
        check_limits(info, LIMITS)


def test_a_pixel_limit_reads_width_by_height() -> None:
    assert MediaLimits.parse("1920X1080", 60.0) == MediaLimits(1920, 1080, 60.0)
    for bad in ("1920", "0x1080", "ax b", "-1x5"):
        with pytest.raises(ValueError, match="3840x2160"):
            MediaLimits.parse(bad, 60.0)
