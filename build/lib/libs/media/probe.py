"""What a media file (or a presigned URL of one) is: its first video frame decoded by PyAV in a
short-lived worker process (probe_worker.py), and what cliptrail makes of the report."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libs.errors import PermanentError
from libs.media.runner import ProcessTimeoutError, finish

CONTENT_TYPES = {
    "mp4": "video/mp4",
    "m4v": "video/x-m4v",
    "mov": "video/quicktime",
    "mkv": "video/x-matroska",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
}
# FFmpeg demuxer names -> the extensions a file of that container may carry (first: default)
CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": ("mp4", "mov", "m4v"),
    "matroska,webm": ("mkv", "webm"),
    "avi": ("avi",),
}
PROBE_TIMEOUT_SECONDS = 60.0
# Python with PyAV loaded takes ~120 MiB of address space; an 8192x8192 frame ~200 MiB more.
PROBE_MEMORY_BYTES = 1024 * 1024 * 1024
DEFAULT_FPS = 25.0  # what a still image (a thumbnail) counts as
WORKER = Path(__file__).with_name("probe_worker.py")


class NotAVideoError(PermanentError):
    """The file holds no decodable video stream in a container cliptrail stores."""


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds; width and height as displayed (after the rotation)."""

    duration: float
    width: int
    height: int
    codec: str
    fps: float
    has_audio: bool
    container: str = ""
    extension: str = ""  # "" when cliptrail does not store this container
    rotation: int = 0

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.extension, "application/octet-stream")

    @property
    def frame_seconds(self) -> float:
        return 1.0 / self.fps


async def probe(source: Path | str, hint_extension: str = "") -> MediaInfo:
    """Decode the first video frame of a local file or an http(s) URL; NotAVideoError unless
    that works."""
    args = [sys.executable, "-I", str(WORKER), _target(source)]
    try:
        finished = await finish(args, PROBE_TIMEOUT_SECONDS, PROBE_MEMORY_BYTES)
    except ProcessTimeoutError as exc:
        raise NotAVideoError("probing the file took too long") from exc
    if finished.returncode < 0:
        raise NotAVideoError(f"decoding it crashed (signal {-finished.returncode})")
    if finished.returncode != 0:
        raise NotAVideoError(_reason(finished.stderr))
    return media_info(json.loads(finished.stdout), hint_extension)


def _target(source: Path | str) -> str:
    """A URL as it is; a path as a file: URL, so that no colon in it reads as a protocol."""
    return source if isinstance(source, str) else f"file:{source.absolute()}"


def _reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "the file could not be read"


def media_info(report: dict[str, Any], hint_extension: str = "") -> MediaInfo:
    """The worker's report as cliptrail sees it: upright size, a frame rate, an extension."""
    width, height, rotation = report["width"], report["height"], round(report["rotation"])
    if abs(rotation) % 180 == 90:  # phones store portrait video turned; players turn it back
        width, height = height, width
    extensions = CONTAINERS.get(report["format"], ("",))
    return MediaInfo(
        container=report["format"],
        extension=hint_extension if hint_extension in extensions else extensions[0],
        duration=float(report["duration"]),
        width=width,
        height=height,
        codec=report["codec"],
        fps=report["fps"] if report["fps"] > 0 else DEFAULT_FPS,
        has_audio=bool(report["has_audio"]),
        rotation=rotation,
    )


def require_storable(info: MediaInfo) -> MediaInfo:
    if not info.extension:
        raise NotAVideoError(f"the container {info.container!r} is not supported")
    return info
