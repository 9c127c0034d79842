"""What a media file is (real files probed by the PyAV worker), what cliptrail makes of the
report, and the limits on what it takes."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from libs.media.limits import MediaLimits, VideoLimitError, check_limits
from libs.media.probe import MediaInfo, NotAVideoError, media_info, probe, require_storable
from libs.media.runner import ffmpeg_exe

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
LIMITS = MediaLimits(3840, 2160, 4 * 3600.0)


def report(**changes: Any) -> dict[str, Any]:
    """What the worker prints for a 62.5 s 1280x720 H.264 MP4 with audio."""
    base = {"format": MP4, "duration": 62.5, "codec": "h264", "width": 1280, "height": 720}
    return base | {"rotation": 0, "fps": 25.0, "has_audio": True} | changes


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def make(path: Path, source: str, *encode: str) -> Path:
    """A tiny clip of testsrc2 with a tone, encoded fast and small."""
    ffmpeg(
        *("-f", "lavfi", "-i", source, "-f", "lavfi", "-i", "sine=duration=0.2"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-crf", "51", *encode, str(path)),
    )  # fmt: skip
    return path


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


async def test_probe_reads_a_real_mp4(small_video: Path) -> None:
    info = require_storable(await probe(small_video, hint_extension="mp4"))
    assert (info.extension, info.width, info.height, info.codec) == ("mp4", 320, 240, "h264")
    assert (info.fps, info.has_audio, info.rotation) == (25.0, True, 0)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.content_type == "video/mp4"


async def test_probe_refuses_a_text_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(NotAVideoError, match="Invalid data"):
        await probe(text, hint_extension="mp4")


async def test_probe_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotAVideoError, match="No such file"):
        await probe(tmp_path / "absent.mp4")


async def test_a_colon_in_a_file_name_is_no_protocol(tmp_path: Path, small_video: Path) -> None:
    odd = tmp_path / "http:odd.mp4"
    odd.write_bytes(small_video.read_bytes())
    assert (await probe(odd)).width == 320


def make_song_with_cover(path: Path) -> Path:
    """AAC audio with a cover image: an MP4-family file whose only video is an attached pic."""
    ffmpeg(
        "-f", "lavfi", "-i", "sine=duration=1", "-f", "lavfi", "-i", "color=c=red:s=64x64",
        "-map", "0", "-map", "1", "-frames:v", "1", "-c:a", "aac", "-c:v", "mjpeg",
        "-disposition:v", "attached_pic", str(path),
    )  # fmt: skip
    return path


async def test_probe_refuses_audio_with_cover_art(tmp_path: Path) -> None:
    song = await asyncio.to_thread(make_song_with_cover, tmp_path / "song.m4a")
    with pytest.raises(NotAVideoError, match="no video stream"):
        await probe(song, hint_extension="mp4")


async def test_probe_refuses_audio_alone(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    await asyncio.to_thread(ffmpeg, "-f", "lavfi", "-i", "sine=duration=0.5", str(wav))
    with pytest.raises(NotAVideoError, match="no video stream"):
        await probe(wav)


async def test_an_mpegts_video_is_probed_but_not_storable(tmp_path: Path) -> None:
    ts = await asyncio.to_thread(make, tmp_path / "a.ts", "testsrc2=size=64x64:duration=0.2")
    info = await probe(ts)
    assert (info.container, info.width, info.has_audio) == ("mpegts", 64, True)
    with pytest.raises(NotAVideoError, match="mpegts"):
        require_storable(info)


async def test_a_turned_phone_video_is_probed_upright(tmp_path: Path, small_video: Path) -> None:
    turned = tmp_path / "turned.mp4"
    await asyncio.to_thread(
        ffmpeg, "-display_rotation", "90", "-i", str(small_video), "-c", "copy", str(turned)
    )
    info = await probe(turned)
    assert (info.width, info.height, abs(info.rotation)) == (240, 320, 90)


async def test_real_media_past_the_limits_is_refused_with_its_figures(tmp_path: Path) -> None:
    wide = make(
        tmp_path / "wide.mp4", "testsrc2=size=3842x2160:rate=1:duration=1", "-frames:v", "1"
    )
    fast = make(tmp_path / "fast.mp4", "testsrc2=size=64x64:rate=250:duration=0.2")
    with pytest.raises(VideoLimitError, match="3842x2160 is above the limit of 3840x2160"):
        check_limits(await probe(wide), LIMITS)
    with pytest.raises(VideoLimitError, match="250 fps is above the limit of 240 fps"):
        check_limits(await probe(fast), LIMITS)
