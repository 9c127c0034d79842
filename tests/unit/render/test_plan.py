"""The pure parts of render: clip plans, clamping, frame sizes, output checks, highlights.json."""

from __future__ import annotations

import json

import pytest

from libs.errors import PermanentError
from libs.media.highlights import Highlight
from libs.media.probe import MediaInfo
from libs.messaging.events import RenderRequest
from services.render.manifest import (
    RenderedClip,
    RenderSettings,
    build_manifest,
    manifest_bytes,
    public_url,
)
from services.render.model import FrameSize
from services.render.plan import check_source_key, clamp_highlights, plan_clips
from services.render.verify import OutputRejectedError, check_clip, check_thumbnail

PREFIX = "users/alice/projects/p1/videos/v1"
SOURCE = MediaInfo(duration=20.0, width=641, height=361, codec="h264", fps=25.0, has_audio=True)
VERTICAL = FrameSize(720, 1280)


def request(**changes: object) -> RenderRequest:
    fields = {
        "user_id": "alice",
        "project_id": "p1",
        "video_id": "v1",
        "source_key": f"{PREFIX}/source.mp4",
    }
    return RenderRequest.model_validate({**fields, **changes})


def highlight(
    start: float, end: float, title: str = "Goal", styles: list[str] | None = None
) -> Highlight:
    return Highlight.model_validate(
        {"start": start, "end": end, "title": title, "styles": styles or ["original"]}
    )


def test_clips_are_numbered_in_time_order_and_styles_in_their_own_order() -> None:
    ordered = clamp_highlights(
        [highlight(10, 12, "Second", ["split", "original"]), highlight(1, 3, 'First ⚽ / "x"')],
        SOURCE.duration,
    )
    plans = plan_clips(request(), ordered, SOURCE, VERTICAL)
    assert [p.clip_key.rpartition("/")[2] for p in plans] == [
        "clip_01_01_first-x_original.mp4",
        "clip_02_01_second_split.mp4",
        "clip_02_02_second_original.mp4",
    ]
    assert plans[0].thumbnail_key == f"{PREFIX}/clips/clip_01_01_first-x_original.jpg"
    assert [p.scene_id for p in plans] == ["highlight-01", "highlight-02", "highlight-02"]
    assert [(p.size.width, p.size.height) for p in plans] == [(640, 360), (720, 1280), (640, 360)]


def test_highlights_are_clamped_to_the_video_and_those_past_its_end_dropped() -> None:
    kept = clamp_highlights(
        [highlight(15, 40, "Late"), highlight(19.8, 25, "Too late"), highlight(30, 35, "Past")],
        SOURCE.duration,
    )
    assert [(h.title, h.start, h.end) for h in kept] == [("Late", 15, 20.0)]
    with pytest.raises(PermanentError, match="no highlight"):
        clamp_highlights([highlight(30, 35)], SOURCE.duration)


@pytest.mark.parametrize(
    "key",
    [
        f"{PREFIX}/highlights.json",
        "users/alice/projects/p1/videos/v2/source.mp4",
        "users/bob/projects/p1/videos/v1/source.mp4",
        "../etc/passwd",
    ],
)
def test_only_the_videos_own_source_is_rendered(key: str) -> None:
    with pytest.raises(PermanentError):
        check_source_key(request(source_key=key))


def test_frame_sizes_parse_and_must_be_even() -> None:
    assert FrameSize.parse("1080X1920") == FrameSize(1080, 1920)
    for bad in ("720", "720x", "x1280", "721x1280", "720x1281", "0x0", "-2x4", "axb"):
        with pytest.raises(ValueError, match=r"720x1280|even"):
            FrameSize.parse(bad)


def probe(duration: float, width: int = 720, height: int = 1280, **changes: object) -> MediaInfo:
    fields: dict[str, object] = {"codec": "h264", "fps": 25.0, "has_audio": True}
    return MediaInfo(duration=duration, width=width, height=height, **{**fields, **changes})  # type: ignore[arg-type]


def test_a_clip_within_one_frame_of_its_length_passes() -> None:
    check_clip("c.mp4", probe(3.04), VERTICAL, 3.0, SOURCE)
    check_clip("c.mp4", probe(2.96), VERTICAL, 3.0, SOURCE)


@pytest.mark.parametrize(
    ("found", "problem"),
    [
        (probe(3.1), "lasts 3.100 s, not 3.000 s"),
        (probe(3.0, 640, 360), "is 640x360, not 720x1280"),
        (probe(3.0, has_audio=False), "has no audio"),
        (probe(3.0, codec="mpeg4"), "is mpeg4, not h264"),
    ],
)
def test_a_clip_that_is_not_what_was_asked_is_rejected(found: MediaInfo, problem: str) -> None:
    with pytest.raises(OutputRejectedError, match=problem):
        check_clip("c.mp4", found, VERTICAL, 3.0, SOURCE)


def test_a_silent_source_gives_silent_clips() -> None:
    silent = probe(20.0, has_audio=False)
    check_clip("c.mp4", probe(3.0, has_audio=False), VERTICAL, 3.0, silent)


def test_a_thumbnail_must_be_a_jpeg_of_the_clips_size() -> None:
    check_thumbnail("c.jpg", probe(0.04, codec="mjpeg"), VERTICAL)
    with pytest.raises(OutputRejectedError, match="is png"):
        check_thumbnail("c.jpg", probe(0.04, codec="png"), VERTICAL)


def rendered(public_base: str = "") -> dict[str, object]:
    highlights = [highlight(1, 3, "Goal", ["original", "vertical"]), highlight(5, 7, "Save")]
    plans = plan_clips(request(), highlights, SOURCE, VERTICAL)
    clips = [RenderedClip(p, probe(2.0, p.size.width, p.size.height), 1000, 50) for p in plans]
    settings = RenderSettings("veryfast", "720x1280", "n9.0", "request")
    return build_manifest(request(), highlights, clips, settings, public_base)


def test_the_manifest_lists_every_clip_under_its_highlight() -> None:
    manifest = json.loads(manifest_bytes(rendered()))
    assert manifest["video_url"] is None and manifest["source_key"] == f"{PREFIX}/source.mp4"
    assert manifest["render"] == {
        "video_codec": "h264",
        "audio_codec": "aac",
        "preset": "veryfast",
        "vertical_size": "720x1280",
        "ffmpeg_version": "n9.0",
        "picked_by": "request",
    }
    first, second = manifest["highlights"]
    assert (first["number"], first["scene_id"], first["title"]) == (1, "highlight-01", "Goal")
    assert (first["start"], first["end"], first["styles"]) == (1.0, 3.0, ["original", "vertical"])
    assert [c["key"].rpartition("/")[2] for c in first["clips"]] == [
        "clip_01_01_goal_original.mp4",
        "clip_01_02_goal_vertical.mp4",
    ]
    assert first["clips"][1] | {"key": None, "thumbnail_key": None} == {
        "style": "vertical",
        "style_number": 2,
        "key": None,
        "thumbnail_key": None,
        "url": None,
        "thumbnail_url": None,
        "width": 720,
        "height": 1280,
        "duration": 2.0,
        "size_bytes": 1000,
        "thumbnail_size_bytes": 50,
    }
    assert [c["style"] for c in second["clips"]] == ["original"]


def test_public_urls_only_where_the_bucket_is_public() -> None:
    manifest = rendered("https://cdn.example.com/")
    assert manifest["video_url"] == f"https://cdn.example.com/{PREFIX}/source.mp4"
    assert public_url("https://cdn.example.com", "a b.mp4") == "https://cdn.example.com/a%20b.mp4"
    assert public_url("", "a.mp4") is None
