"""Every ffmpeg argument list render runs, built with ffmpeg-python (no I/O here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ffmpeg

from libs.media.runner import ffmpeg_exe
from services.render.model import EncodeJob, FrameSize

QUIET = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error")
CHATTY = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "info")
AUDIO_BITRATE = "128k"
THUMBNAIL_BATCH_FRAMES = 25
# The analysis only needs coarse pictures: scene changes survive 5 fps at 160 px wide.
ANALYSIS_FPS = 5
ANALYSIS_WIDTH = 160
SCENE_THRESHOLD = 10

Stream = Any  # ffmpeg-python's streams are untyped


def _compile(stream: Stream, *global_args: str) -> list[str]:
    args: list[str] = stream.global_args(*global_args).compile(
        cmd=ffmpeg_exe(), overwrite_output=True
    )
    return args


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def encode_args(job: EncodeJob) -> list[str]:
    """Cut [start, start+length) frame-accurately (input seeking decodes from the keyframe
    before and drops what precedes `start`), reframe, and encode H.264/AAC for the web."""
    source = ffmpeg.input(str(job.source), ss=f"{job.start:.3f}", t=f"{job.length:.3f}")
    # The first frame at or after `start` becomes time zero, even when `start` falls mid-frame.
    video = style_filter(source.video.filter("setpts", "PTS-STARTPTS"), job.style, job.vertical)
    streams = [video.filter("setsar", 1)]
    if job.with_audio:
        streams.append(source.audio.filter("asetpts", "PTS-STARTPTS"))
    options = {"c:v": "libx264", "preset": job.preset, "pix_fmt": "yuv420p", "c:a": "aac"}
    output = ffmpeg.output(
        *streams, str(job.output), movflags="+faststart", **options, **{"b:a": AUDIO_BITRATE}
    )
    return _compile(output, *QUIET)


def style_filter(video: Stream, style: str, frame: FrameSize) -> Stream:
    if style == "vertical":
        return centre_crop(video, frame)
    if style == "blur":
        return blurred_fill(video, frame)
    if style == "split":
        return halves_stacked(video, frame)
    return video.filter("crop", "trunc(iw/2)*2", "trunc(ih/2)*2")


def centre_crop(video: Stream, frame: FrameSize) -> Stream:
    """The largest centred window of the frame's aspect ratio, scaled to the frame."""
    ratio = f"{frame.width}/{frame.height}"
    cropped = video.filter("crop", w=f"min(iw,ih*{ratio})", h=f"min(ih,iw/({ratio}))")
    return cropped.filter("scale", frame.width, frame.height)


def cover(video: Stream, width: int, height: int) -> Stream:
    """Scale to fill width x height, then cut the overflow off both sides evenly."""
    scaled = video.filter("scale", width, height, force_original_aspect_ratio="increase")
    return scaled.filter("crop", width, height)


def blurred_fill(video: Stream, frame: FrameSize) -> Stream:
    """The whole source, fitted, over a blurred fill of itself (blurred small: cheaper)."""
    copies = video.filter_multi_output("split")
    background, foreground = copies[0], copies[1]
    small = cover(background, _even(frame.width / 4), _even(frame.height / 4))
    fill = small.filter("boxblur", 10).filter("scale", frame.width, frame.height)
    fitted = foreground.filter(
        "scale",
        frame.width,
        frame.height,
        force_original_aspect_ratio="decrease",
        force_divisible_by=2,
    )
    return ffmpeg.overlay(fill, fitted, x="(W-w)/2", y="(H-h)/2")


def halves_stacked(video: Stream, frame: FrameSize) -> Stream:
    """The left half of the source on top of the right half, each filling its panel."""
    copies = video.filter_multi_output("split")
    left, right = copies[0], copies[1]
    top = _even(frame.height / 2)
    upper = cover(left.filter("crop", "iw/2", "ih", 0, 0), frame.width, top)
    lower = cover(right.filter("crop", "iw/2", "ih", "iw/2", 0), frame.width, frame.height - top)
    return ffmpeg.filter([upper, lower], "vstack")


def thumbnail_args(clip: Path, output: Path, at: float) -> list[str]:
    """The most representative frame of a short run from `at` on (not a black first frame)."""
    picked = ffmpeg.input(str(clip), ss=f"{at:.3f}").video.filter(
        "thumbnail", THUMBNAIL_BATCH_FRAMES
    )
    output_stream = picked.output(str(output), vframes=1, update=1, **{"q:v": 3})
    return _compile(output_stream, *QUIET)


def analysis_args(source: Path, with_audio: bool) -> list[str]:
    """One decoding pass that logs scene changes (scdet) and momentary loudness (ebur128)."""
    source_input = ffmpeg.input(str(source))
    video = (
        source_input.video.filter("fps", ANALYSIS_FPS)
        .filter("scale", ANALYSIS_WIDTH, -2)
        .filter("scdet", threshold=SCENE_THRESHOLD)
    )
    streams = [video, source_input.audio.filter("ebur128")] if with_audio else [video]
    return _compile(ffmpeg.output(*streams, "-", format="null"), *CHATTY)
