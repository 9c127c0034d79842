"""What a finished output must be before anything is pushed (no I/O here)."""

from __future__ import annotations

from libs.errors import PermanentError
from libs.media.probe import MediaInfo
from services.render.model import FrameSize

# ffmpeg prints durations to the hundredth of a second.
DURATION_DISPLAY_SECONDS = 0.01


class OutputRejectedError(PermanentError):
    """An encode finished but its output is not what was asked for."""


def check_clip(
    name: str, clip: MediaInfo, size: FrameSize, length: float, source: MediaInfo
) -> None:
    problems = _frame_problems(clip, size, "h264")
    if abs(clip.duration - length) > clip.frame_seconds + DURATION_DISPLAY_SECONDS:
        problems.append(f"lasts {clip.duration:.3f} s, not {length:.3f} s")
    if source.has_audio and not clip.has_audio:
        problems.append("has no audio")
    _reject(name, problems)


def check_thumbnail(name: str, image: MediaInfo, size: FrameSize) -> None:
    _reject(name, _frame_problems(image, size, "mjpeg"))


def _frame_problems(found: MediaInfo, size: FrameSize, codec: str) -> list[str]:
    problems = []
    if found.codec != codec:
        problems.append(f"is {found.codec}, not {codec}")
    if (found.width, found.height) != (size.width, size.height):
        problems.append(f"is {found.width}x{found.height}, not {size.width}x{size.height}")
    return problems


def _reject(name: str, problems: list[str]) -> None:
    if problems:
        raise OutputRejectedError(f"{name} {' and '.join(problems)}")
