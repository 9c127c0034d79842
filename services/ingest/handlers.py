"""Ingest's edges: the HTTP API (aiohttp) and the NATS events that move a video's status.
They translate requests and messages into service calls, and the domain's refusals into
problem+json (`to_problem`); the rules themselves are in service.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from libs.errors import (
    CliptrailError,
    InvalidError,
    NotFoundError,
    ProblemError,
    RefusedError,
    StateError,
    TooLargeError,
    UnavailableError,
)
from libs.media.probe import NotAVideoError
from libs.messaging.bus import Delivery
from libs.messaging.events import ObjectEvent, PushFailed, RenderStatus, decode
from libs.storage.keys import InvalidKeyError, new_id, parse_key
from libs.web.auth import Principal, authenticate
from libs.web.bounds import read_json
from services.ingest import uploads
from services.ingest.service import (
    RENDER_MOVES,
    AcceptedUpload,
    IngestService,
    project_view,
    video_view,
)

log = structlog.get_logger(__name__)
PRINCIPAL = web.RequestKey("principal", Principal)
PUBLIC_API = frozenset({"/api/v1/openapi.json"})


def auth_middleware(secret: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith("/api/v1") and request.path not in PUBLIC_API:
            principal = authenticate(secret, request.headers.get("Authorization"))
            request[PRINCIPAL] = principal
            structlog.contextvars.bind_contextvars(user_id=principal.user_id)
        return await handler(request)

    return middleware


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL]


async def json_object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ProblemError(422, "Invalid body", "The request body must be a JSON object.")
    return body


@dataclass
class IngestHandlers:
    service: IngestService
    work_dir: Path
    max_upload_bytes: int

    async def create_project(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        project = await self.service.create_project(principal_of(request).user_id, body.get("name"))
        return web.json_response(project_view(project), status=201)

    async def list_projects(self, request: web.Request) -> web.Response:
        projects = await self.service.catalog.list_projects(principal_of(request).user_id)
        return web.json_response({"projects": [project_view(p) for p in projects]})

    async def get_project(self, request: web.Request) -> web.Response:
        user_id = principal_of(request).user_id
        project = await self.service.project(user_id, request.match_info["project_id"])
        videos = await self.service.catalog.list_videos(user_id, project.project_id)
        view = project_view(project) | {"videos": [video_view(v, None) for v in videos]}
        return web.json_response(view)

    async def get_video(self, request: web.Request) -> web.Response:
        user_id = principal_of(request).user_id
        info = request.match_info
        video = await self.service.video(user_id, info["project_id"], info["video_id"])
        return web.json_response(video_view(video, await self.service.url_for(video)))

    async def list_clips(self, request: web.Request) -> web.Response:
        info = request.match_info
        clips = await self.service.clips(
            principal_of(request).user_id, info["project_id"], info["video_id"]
        )
        if clips.entries is None:
            processing = {"detail": "Video is still being processed", "status": clips.status}
            return web.json_response(processing, status=202)
        return web.json_response({"clips": await self.service.manifests.views(clips.entries)})

    async def delete_project(self, request: web.Request) -> web.Response:
        user_id = principal_of(request).user_id
        await self.service.delete_project(user_id, request.match_info["project_id"])
        return web.Response(status=204)

    async def upload_video(self, request: web.Request) -> web.Response:
        user_id = principal_of(request).user_id
        project = await self.service.project(user_id, request.match_info["project_id"])
        await self.service.check_quota(user_id, request.content_length or 0)
        video_id = new_id()
        structlog.contextvars.bind_contextvars(project_id=project.project_id, video_id=video_id)
        try:
            upload = await self._receive(request, user_id, project.project_id, video_id)
            video = await self.service.accept_upload(user_id, upload)
        except BaseException:
            uploads.discard_work_files(self.work_dir, video_id)
            raise
        log.info("upload_accepted", size=upload.vetted.size, key=video.r2_key)
        body = {"video_id": video_id, "r2_key": video.r2_key, "status": video.status}
        return web.json_response(body, status=202)

    async def _receive(
        self, request: web.Request, user_id: str, project_id: str, video_id: str
    ) -> AcceptedUpload:
        part = uploads.part_path(self.work_dir, video_id)
        received = await uploads.receive(request, part, self.max_upload_bytes)
        vetted = await self.service.vet_upload(user_id, received)
        final = uploads.finalize(part, vetted.info.extension)
        local = str(final.relative_to(self.work_dir))
        return AcceptedUpload(project_id, video_id, vetted, local)


@dataclass
class IngestEvents:
    """Status changes that storage and render announce; each is safe to receive twice."""

    service: IngestService
    work_dir: Path

    async def on_object_created(self, delivery: Delivery) -> None:
        data = decode(ObjectEvent, delivery.data).data
        if data.file_type != "source" or data.user_id is None or data.video_id is None:
            return
        catalog = self.service.catalog
        await catalog.move_video(data.user_id, data.video_id, "stored", ("uploading",))
        uploads.discard_work_files(self.work_dir, data.video_id)
        video = await catalog.find_video(data.user_id, data.video_id)
        if video is not None and video.status == "stored":
            await self.service.request_render(data.user_id, video)

    async def on_push_failed(self, delivery: Delivery) -> None:
        failed = decode(PushFailed, delivery.data)
        try:
            parsed = parse_key(failed.key)
        except InvalidKeyError:
            return
        if parsed.file_type == "source" and parsed.video_id:
            reason = f"storing the upload failed: {failed.reason}"
            await self.service.catalog.move_video(
                parsed.user_id, parsed.video_id, "failed", ("uploading",), reason
            )
            uploads.discard_work_files(self.work_dir, parsed.video_id)

    async def on_render_status(self, delivery: Delivery) -> None:
        status = decode(RenderStatus, delivery.data)
        allowed_from = RENDER_MOVES[status.status]
        await self.service.catalog.move_video(
            status.user_id, status.video_id, status.status, allowed_from, status.error
        )


PROBLEM_STATUS: dict[type[CliptrailError], int] = {
    NotFoundError: 404,
    StateError: 409,
    TooLargeError: 413,
    NotAVideoError: 415,
    InvalidError: 422,
    UnavailableError: 503,
}


def to_problem(exc: CliptrailError) -> ProblemError | None:
    """The HTTP answer to a refusal of the domain (None: not a refusal this edge knows)."""
    if isinstance(exc, NotAVideoError):
        return ProblemError(415, "Unsupported Media Type", f"Not a video: {exc}.")
    status = next((code for kind, code in PROBLEM_STATUS.items() if isinstance(exc, kind)), None)
    if status is None or not isinstance(exc, RefusedError | UnavailableError):
        return None
    facts = exc.facts if isinstance(exc, RefusedError) else {}
    return ProblemError(status, exc.title, exc.detail, **facts)
