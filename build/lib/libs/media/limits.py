"""How large, long and fast a video cliptrail takes (a pure rule, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libs.errors import InvalidError
from libs.media.probe import MediaInfo

MAX_FPS = 240.0


class VideoLimitError(InvalidError):
    """The video is larger, longer or faster than cliptrail takes; the message names the figures,
    the facts carry them (`video`, `limits`)."""


@dataclass(frozen=True)
class MediaLimits:
    max_width: int  # the pixel limit is an area: max_width * max_height
    max_height: int
    max_seconds: float
    max_fps: float = MAX_FPS

    @classmethod
    def parse(cls, pixels: str, max_seconds: float) -> MediaLimits:
        """`pixels` as WIDTHxHEIGHT, e.g. '3840x2160'."""
        width, sep, height = pixels.lower().partition("x")
        if not (sep and width.isdigit() and height.isdigit()) or "0" in (width, height):
            raise ValueError(f"a pixel limit looks like 3840x2160, not {pixels!r}")
        return cls(int(width), int(height), max_seconds)


def check_limits(info: MediaInfo, limits: MediaLimits) -> None:
    problems = []
    if info.width * info.height > limits.max_width * limits.max_height:
        problems.append(
            f"{info.width}x{info.height} is above the limit of "
            f"{limits.max_width}x{limits.max_height} pixels"
        )
    if info.duration > limits.max_seconds:
        problems.append(f"{info.duration:g} s is above the limit of {limits.max_seconds:g} s")
    if info.fps > limits.max_fps:
        problems.append(f"{info.fps:g} fps is above the limit of {limits.max_fps:g} fps")
    if problems:
        detail = "the video is too large: " + "; ".join(problems)
        raise VideoLimitError(detail, "Video too large", **_figures(info, limits))


def _figures(info: MediaInfo, limits: MediaLimits) -> dict[str, Any]:
    found = {"width": info.width, "height": info.height, "duration": info.duration, "fps": info.fps}
    allowed = {
        "max_pixels": f"{limits.max_width}x{limits.max_height}",
        "max_seconds": limits.max_seconds,
        "max_fps": limits.max_fps,
    }
    return {"video": found, "limits": allowed}
