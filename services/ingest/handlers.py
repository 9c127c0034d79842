"""Ingest's edges: the HTTP API (aiohttp) and the NATS events that move a video's status.
They translate requests and messages into service calls, and the domain's refusals into
problem+json (`to_problem`); the rules themselves are in service.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from libs.messaging.events import RenderStatus, decode
from libs.web.auth import PRINCIPAL, Authenticator, Principal
from libs.web.bounds import read_json
from services.ingest import uploads
from services.ingest.resumable import ChecksumMismatchError, LockedError, ResumableUploads
from services.ingest.service import (
    RENDER_MOVES,
    IngestService,
    project_view,
    video_view,
)

log = structlog.get_logger(__name__)
PUBLIC_API = frozenset({"/api/v1/openapi.json"})


def auth_middleware(auth: Authenticator) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith("/api/v1") and request.path not in PUBLIC_API:
            principal = await auth.authenticate(request.headers.get("Authorization"))
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
        used = await self.service.check_quota(user_id, request.content_length or 0)
        body = await uploads.open_body(request, self.max_upload_bytes)
        video = await self.service.upload(user_id, project.project_id, body, used)
        log.info("upload_accepted", size=video.size_bytes, key=video.r2_key)
        body_view = {"video_id": video.video_id, "r2_key": video.r2_key, "status": video.status}
        return web.json_response(body_view, status=202)


@dataclass
class IngestEvents:
    """Status changes that render announces; each is safe to receive twice."""

    service: IngestService
    resumable: ResumableUploads

    async def sweep_expired_uploads(self) -> None:
        swept = await self.resumable.sweep_expired()
        if swept:
            log.info("expired_uploads_swept", count=swept)

    async def on_render_status(self, delivery: Delivery) -> None:
        status = decode(RenderStatus, delivery.data)
        allowed_from = RENDER_MOVES[status.status]
        await self.service.catalog.move_video(
            status.user_id,
            status.video_id,
            status.status,
            allowed_from,
            status.error,
            status.sequence,
        )


PROBLEM_STATUS: dict[type[CliptrailError], int] = {
    NotFoundError: 404,
    LockedError: 423,
    ChecksumMismatchError: 460,
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
