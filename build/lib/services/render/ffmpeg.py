"""The Media port of the render service on the bundled ffmpeg (runner and probe in libs.media)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import imageio_ffmpeg

from libs.media.probe import MediaInfo, NotAVideoError, probe
from libs.media.runner import FfmpegRunner
from services.render import commands
from services.render.auto_highlights import parse_loudness, parse_scene_changes
from services.render.model import EncodeJob, Signal

MIN_TIMEOUT_SECONDS = 60.0


def deadline(seconds_of_media: float, factor: float) -> float:
    """How long a job on this much media may run before it counts as hung."""
    return max(MIN_TIMEOUT_SECONDS, factor * seconds_of_media)


class FfmpegMedia:
    """The Media port of the render service, on the bundled ffmpeg."""

    def __init__(self, runner: FfmpegRunner, timeout_factor: float) -> None:
        self.runner = runner
        self.timeout_factor = timeout_factor

    async def probe(self, path: Path) -> MediaInfo:
        try:
            return await probe(path)
        except NotAVideoError as exc:
            raise NotAVideoError(f"{path.name} is not a decodable video: {exc}") from exc

    async def analyse(self, path: Path, probe: MediaInfo) -> Signal:
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
