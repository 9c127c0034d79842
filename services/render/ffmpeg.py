"""Running the bundled ffmpeg: bounded concurrency, a deadline, and what its log says."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import imageio_ffmpeg

from libs.errors import PermanentError
from services.render import commands
from services.render.auto_highlights import parse_loudness, parse_scene_changes
from services.render.model import EncodeJob, Probe, Signal

PROBE_TIMEOUT_SECONDS = 60.0
MIN_TIMEOUT_SECONDS = 60.0
DEFAULT_FPS = 25.0
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:\d+\S*: Video: (?P<codec>\w+)[^\n]*?, (?P<w>\d+)x(?P<h>\d+)")
_FPS = re.compile(r", (?P<fps>\d+(?:\.\d+)?) fps\b")
_AUDIO = re.compile(r"Stream #0:\d+\S*: Audio: ")
_ROTATION = re.compile(r"rotation of (?P<degrees>-?\d+(?:\.\d+)?) degrees")
_DIRECTORIES = re.compile(r"(?:/[^/\s:'\"]+)+/")
_COMPONENT = re.compile(r"^(?:\[[^\]]+ @ 0x[0-9a-f]+\] ?)+")
# What ffmpeg logs on its way out after the real problem was named.
_AFTERMATH = re.compile(
    r"Task finished|Terminating thread|Could not open encoder|Nothing was written"
    r"|Error reinitializing|Failed to configure|error rate|Conversion failed"
)


class FfmpegError(PermanentError):
    """ffmpeg refused or failed: the input or the request cannot be rendered as it is."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


def deadline(seconds_of_media: float, factor: float) -> float:
    """How long a job on this much media may run before it counts as hung."""
    return max(MIN_TIMEOUT_SECONDS, factor * seconds_of_media)


def last_words(stderr: str) -> str:
    """The last line of ffmpeg's log that names the problem, without the server's paths."""
    lines = [_COMPONENT.sub("", line.strip()) for line in stderr.splitlines() if line.strip()]
    telling = [line for line in lines if not _AFTERMATH.search(line)] or lines
    return _DIRECTORIES.sub("", telling[-1])[:300] if telling else "no message"


def parse_probe(stderr: str) -> Probe:
    header = stderr.partition("Stream mapping:")[0]
    video = _VIDEO.search(header)
    if video is None:
        raise FfmpegError("the file holds no video stream")
    section = _stream_section(header, video.start())
    fps = _FPS.search(section.partition("\n")[0])
    width, height = int(video["w"]), int(video["h"])
    if _quarter_turned(section):  # phones store portrait video turned; ffmpeg turns it back
        width, height = height, width
    return Probe(
        duration=_duration(header),
        width=width,
        height=height,
        codec=video["codec"],
        fps=float(fps["fps"]) if fps and float(fps["fps"]) > 0 else DEFAULT_FPS,
        has_audio=bool(_AUDIO.search(header)),
    )


def _stream_section(header: str, start: int) -> str:
    """The lines that describe the stream starting at `start`, up to the next stream."""
    end = header.find("Stream #", start + 1)
    return header[start : end if end >= 0 else None]


def _quarter_turned(section: str) -> bool:
    rotation = _ROTATION.search(section)
    return rotation is not None and round(abs(float(rotation["degrees"]))) % 180 == 90


def _duration(text: str) -> float:
    found = _DURATION.search(text)
    if not found:
        return 0.0
    return int(found["h"]) * 3600 + int(found["m"]) * 60 + float(found["s"])


class FfmpegRunner:
    """At most `concurrency` ffmpeg processes at once; each killed when its deadline passes."""

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(max(1, concurrency))

    async def run(self, args: list[str], timeout: float) -> str:  # noqa: ASYNC109
        async with self._slots:
            return await run_process(args, timeout)


async def run_process(args: list[str], timeout: float) -> str:  # noqa: ASYNC109
    """Run one process to its end and return its stderr; a failure or overrun raises."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stderr = await _stderr_within(process, timeout)
    finally:
        await _stop(process)
    if process.returncode != 0:
        detail = last_words(stderr)
        raise FfmpegError(f"ffmpeg failed: {detail}", detail)
    return stderr


async def _stderr_within(process: asyncio.subprocess.Process, timeout: float) -> str:  # noqa: ASYNC109
    try:
        async with asyncio.timeout(timeout):
            _, stderr = await process.communicate()
    except TimeoutError as exc:
        raise FfmpegError(f"ffmpeg ran longer than {timeout:g} s and was stopped") from exc
    return stderr.decode(errors="replace")


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Timed out or cancelled: never leave the process running."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class FfmpegMedia:
    """The Media port of the render service, on the bundled ffmpeg."""

    def __init__(self, runner: FfmpegRunner, timeout_factor: float) -> None:
        self.runner = runner
        self.timeout_factor = timeout_factor

    async def probe(self, path: Path) -> Probe:
        try:
            stderr = await self.runner.run(commands.probe_args(path), PROBE_TIMEOUT_SECONDS)
        except FfmpegError as exc:
            raise FfmpegError(f"{path.name} is not a decodable video: {exc.detail}") from exc
        return parse_probe(stderr)

    async def analyse(self, path: Path, probe: Probe) -> Signal:
        args = commands.analysis_args(path, probe.has_audio)
        stderr = await self.runner.run(args, deadline(probe.duration, self.timeout_factor))
        return Signal(parse_scene_changes(stderr), parse_loudness(stderr))

    async def encode(self, job: EncodeJob) -> None:
        await self.runner.run(commands.encode_args(job), deadline(job.length, self.timeout_factor))

    async def thumbnail(self, clip: Path, output: Path, length: float) -> None:
        args = commands.thumbnail_args(clip, output, at=length / 3)
        await self.runner.run(args, MIN_TIMEOUT_SECONDS)

    async def version(self) -> str:
        found: str = await asyncio.to_thread(imageio_ffmpeg.get_ffmpeg_version)
        return found
