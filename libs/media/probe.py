"""What a media file is, asked of the bundled ffmpeg (argument lists built by ffmpeg-python)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import ffmpeg
import imageio_ffmpeg

from libs.errors import PermanentError

CONTENT_TYPES = {
    "mp4": "video/mp4",
    "m4v": "video/x-m4v",
    "mov": "video/quicktime",
    "mkv": "video/x-matroska",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
}
# ffmpeg demuxer names -> the extensions a file of that container may carry (first: default)
_CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": ("mp4", "mov", "m4v"),
    "matroska,webm": ("mkv", "webm"),
    "avi": ("avi",),
}
PROBE_TIMEOUT_SECONDS = 60.0
_INPUT = re.compile(r"^Input #0, (?P<format>[^ ]+), from", re.MULTILINE)
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:\d+\S*: Video: (?P<codec>\w+).*?, (?P<w>\d+)x(?P<h>\d+)")


class NotAVideoError(PermanentError):
    """The file holds no decodable video stream in a container cliptrail stores."""


@dataclass(frozen=True)
class MediaInfo:
    container: str
    extension: str
    duration: float
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.extension]


@cache
def ffmpeg_exe() -> str:
    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def _probe_args(path: Path) -> list[str]:
    stream = ffmpeg.input(str(path))["v:0"].output("-", format="null", vframes=1)
    args: list[str] = stream.global_args("-hide_banner", "-nostdin").compile(cmd=ffmpeg_exe())
    return args


async def probe_video(path: Path, hint_extension: str = "") -> MediaInfo:
    """Decode the first video frame; NotAVideoError unless that works."""
    process = await asyncio.create_subprocess_exec(
        *_probe_args(path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), PROBE_TIMEOUT_SECONDS)
    except TimeoutError as exc:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise NotAVideoError("probing the file took too long") from exc
    if process.returncode != 0:
        raise NotAVideoError("the file holds no decodable video stream")
    return parse_probe(stderr.decode(errors="replace"), hint_extension)


def parse_probe(text: str, hint_extension: str = "") -> MediaInfo:
    container = _INPUT.search(text)
    video = _VIDEO.search(text)
    if not container or not video or "(attached pic)" in _line_at(text, video.start()):
        raise NotAVideoError("the file holds no video stream")
    extensions = _CONTAINERS.get(container["format"])
    if extensions is None:
        raise NotAVideoError(f"the container {container['format']!r} is not supported")
    extension = hint_extension if hint_extension in extensions else extensions[0]
    return MediaInfo(
        container["format"], extension, _duration(text), int(video["w"]), int(video["h"])
    )


def _line_at(text: str, position: int) -> str:
    end = text.find("\n", position)
    return text[position : end if end >= 0 else len(text)]


def _duration(text: str) -> float:
    found = _DURATION.search(text)
    if not found:
        return 0.0
    return int(found["h"]) * 3600 + int(found["m"]) * 60 + float(found["s"])
