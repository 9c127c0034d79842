"""Render logic: a stored source and its highlights in; clips, thumbnails and highlights.json out.

All or nothing: every output is encoded and verified before the first push, and highlights.json
goes last, so its presence means the video is ready. Keys are deterministic and the work dir is
wiped first, so a redelivered or repeated request overwrites the same objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol, TypeVar

import structlog

from libs.errors import PermanentError
from libs.media.highlights import Highlight
from libs.media.limits import MediaLimits, check_limits
from libs.media.probe import MediaInfo
from libs.messaging.events import RenderRequest, RenderState
from libs.observability.metrics import ENCODE_SECONDS, RENDERS
from libs.storage.keys import highlights_key
from libs.storage.objects import StoredObject
from services.render.auto_highlights import pick_highlights
from services.render.manifest import RenderedClip, RenderSettings, build_manifest, manifest_bytes
from services.render.model import EncodeJob, FrameSize, Signal
from services.render.plan import ClipPlan, check_source_key, clamp_highlights, plan_clips
from services.render.verify import check_clip, check_thumbnail
from services.render.workspace import Workspace

log = structlog.get_logger(__name__)
T = TypeVar("T")
Report = Callable[[RenderState, str | None], Awaitable[None]]
PUSH_CONCURRENCY = 4
MP4, JPEG, JSON = "video/mp4", "image/jpeg", "application/json"


class Media(Protocol):
    async def probe(self, path: Path) -> MediaInfo: ...

    async def analyse(self, path: Path, probe: MediaInfo) -> Signal: ...

    async def encode(self, job: EncodeJob) -> None: ...

    async def thumbnail(self, clip: Path, output: Path, length: float) -> None: ...

    async def version(self) -> str: ...


class Storage(Protocol):
    async def download(self, key: str, dest: Path) -> None: ...

    async def push(
        self, path: Path, key: str, content_type: str, scene_id: str | None
    ) -> StoredObject: ...


@dataclass(frozen=True)
class RenderOptions:
    preset: str
    vertical: FrameSize
    public_url: str
    limits: MediaLimits


@dataclass(frozen=True)
class Chosen:
    highlights: list[Highlight]
    picked_by: Literal["request", "render"]


def clip_path(directory: Path, plan: ClipPlan) -> Path:
    return directory / f"{plan.stem}.mp4"


def thumbnail_path(directory: Path, plan: ClipPlan) -> Path:
    return directory / f"{plan.stem}.jpg"


async def all_or_nothing(jobs: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run the jobs together; the first failure stops the others and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(job) for job in jobs]
    except BaseExceptionGroup as failures:
        # A permanent failure decides the outcome, whatever else went wrong beside it.
        errors = failures.exceptions
        raise next((e for e in errors if isinstance(e, PermanentError)), errors[0]) from None
    return [task.result() for task in tasks]


@dataclass
class RenderService:
    media: Media
    storage: Storage
    workspace: Workspace
    options: RenderOptions

    async def render(self, request: RenderRequest, report: Report) -> None:
        """Render and report the outcome. Raises only for a request that names another
        video's source (dead-lettered) or a transient failure (retried)."""
        check_source_key(request)
        await report("rendering", None)
        try:
            await self._render(request)
        except PermanentError as exc:
            log.warning("render_failed", error=str(exc))
            RENDERS.labels("failed").inc()
            await report("failed", str(exc))
            return
        finally:
            await self.workspace.remove(request.video_id)
        RENDERS.labels("ready").inc()
        await report("ready", None)

    async def _render(self, request: RenderRequest) -> None:
        directory = await self.workspace.reset(request.video_id)
        source = directory / f"source{PurePosixPath(request.source_key).suffix}"
        await self.storage.download(request.source_key, source)
        probe = await self._probe_source(source)
        chosen = await self._choose(request, source, probe)
        plans = plan_clips(request, chosen.highlights, probe, self.options.vertical)
        log.info("render_started", clips=len(plans), picked_by=chosen.picked_by)
        probes = await all_or_nothing([self._produce(p, source, probe) for p in plans])
        rendered = await self._push_outputs(plans, probes, directory)
        await self._push_manifest(request, chosen, rendered, directory)

    async def _probe_source(self, source: Path) -> MediaInfo:
        probe = await self.media.probe(source)
        if probe.duration <= 0:
            raise PermanentError("the source video's duration is unknown")
        check_limits(probe, self.options.limits)  # ingest refuses these; a source may bypass it
        return probe

    async def _choose(self, request: RenderRequest, source: Path, probe: MediaInfo) -> Chosen:
        if request.highlights is not None:
            return Chosen(clamp_highlights(request.highlights, probe.duration), "request")
        signal = await self.media.analyse(source, probe)
        return Chosen(pick_highlights(probe.duration, signal), "render")

    async def _produce(self, plan: ClipPlan, source: Path, source_probe: MediaInfo) -> MediaInfo:
        """Encode one clip and its thumbnail, and check both; nothing is pushed here."""
        clip, thumbnail = clip_path(source.parent, plan), thumbnail_path(source.parent, plan)
        with ENCODE_SECONDS.labels(plan.style).time():
            await self.media.encode(self._job(plan, source, clip, source_probe.has_audio))
        await self.media.thumbnail(clip, thumbnail, plan.length)
        clip_probe = await self.media.probe(clip)
        check_clip(clip.name, clip_probe, plan.size, plan.length, source_probe)
        check_thumbnail(thumbnail.name, await self.media.probe(thumbnail), plan.size)
        return clip_probe

    def _job(self, plan: ClipPlan, source: Path, clip: Path, with_audio: bool) -> EncodeJob:
        options = self.options
        start, length, style = plan.highlight.start, plan.length, plan.style
        return EncodeJob(
            source, clip, start, length, style, options.vertical, options.preset, with_audio
        )

    async def _push_outputs(
        self, plans: list[ClipPlan], probes: list[MediaInfo], directory: Path
    ) -> list[RenderedClip]:
        slots = asyncio.Semaphore(PUSH_CONCURRENCY)

        async def push_pair(plan: ClipPlan, probe: MediaInfo) -> RenderedClip:
            async with slots:
                scene = plan.scene_id
                clip = await self._push(clip_path(directory, plan), plan.clip_key, MP4, scene)
                thumbnail = await self._push(
                    thumbnail_path(directory, plan), plan.thumbnail_key, JPEG, scene
                )
            return RenderedClip(plan, probe, clip.size, thumbnail.size)

        return await all_or_nothing([push_pair(*pair) for pair in zip(plans, probes, strict=True)])

    async def _push(
        self, path: Path, key: str, content_type: str, scene_id: str | None
    ) -> StoredObject:
        reply = await self.storage.push(path, key, content_type, scene_id)
        await self.workspace.discard(path)  # a work file goes once its push is confirmed
        return reply

    async def _push_manifest(
        self,
        request: RenderRequest,
        chosen: Chosen,
        rendered: list[RenderedClip],
        directory: Path,
    ) -> None:
        settings = await self._settings(chosen)
        manifest = build_manifest(
            request, chosen.highlights, rendered, settings, self.options.public_url
        )
        path = directory / "highlights.json"
        await self.workspace.write(path, manifest_bytes(manifest))
        key = highlights_key(request.user_id, request.project_id, request.video_id)
        await self._push(path, key, JSON, None)
        log.info("render_ready", clips=len(rendered))

    async def _settings(self, chosen: Chosen) -> RenderSettings:
        version = await self.media.version()
        return RenderSettings(
            self.options.preset, str(self.options.vertical), version, chosen.picked_by
        )
