"""The tus 1.0 edge of resumable uploads: headers in, headers out, problem+json with the tus
headers on every answer. Core protocol plus creation, creation-with-upload, expiration,
termination and checksum; the rules are in resumable.py."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate

from aiohttp import web

from libs.errors import ProblemError
from services.ingest.handlers import principal_of
from services.ingest.resumable import CHECKSUMS, Checksum, ResumableUploads, UploadState
from services.ingest.uploads import CHUNK_BYTES

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,expiration,termination,checksum"
OFFSET_TYPE = "application/offset+octet-stream"
MAX_METADATA_BYTES = 4096
TUS_PATHS = ("/uploads",)


@web.middleware
async def tus_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every answer on an upload route (errors included) says which tus it speaks."""
    response = await handler(request)
    if "/uploads" in request.path:
        response.headers["Tus-Resumable"] = VERSION
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _require_version(request: web.Request) -> None:
    if request.headers.get("Tus-Resumable") != VERSION:
        raise ProblemError(
            412, "Unsupported tus version", f"Send Tus-Resumable: {VERSION}.", version=VERSION
        )


def _integer(request: web.Request, name: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ProblemError(400, f"Invalid {name}", f"{name} must be a non-negative integer.")
    return int(raw)


def metadata_of(header: str) -> dict[str, bytes]:
    """`Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent)."""
    if len(header) > MAX_METADATA_BYTES:
        raise ProblemError(400, "Invalid Upload-Metadata", "Upload-Metadata is too long.")
    pairs: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        key, _, value = item.partition(" ")
        if not key or key in pairs:
            raise ProblemError(400, "Invalid Upload-Metadata", "Keys must be unique, non-empty.")
        pairs[key] = _b64(value.strip(), "Upload-Metadata")
    return pairs


def checksum_of(header: str | None) -> Checksum | None:
    if header is None:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        detail = f"Upload-Checksum algorithms: {', '.join(CHECKSUMS)}."
        raise ProblemError(400, "Unsupported checksum algorithm", detail)
    return Checksum(algorithm, _b64(value.strip(), "Upload-Checksum"))


def _b64(value: str, header: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProblemError(400, f"Invalid {header}", "Values must be base64.") from exc


def _expires(state: UploadState) -> str:
    return formatdate(state.expires_at, usegmt=True)


@dataclass
class TusHandlers:
    uploads: ResumableUploads

    async def options(self, _request: web.Request) -> web.Response:
        headers = {
            "Tus-Version": VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(self.uploads.max_bytes),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        }
        return web.Response(status=204, headers=headers)

    async def create(self, request: web.Request) -> web.Response:
        _require_version(request)
        if "Upload-Defer-Length" in request.headers:
            raise ProblemError(400, "Deferred length unsupported", "Send Upload-Length.")
        length = _integer(request, "Upload-Length")
        metadata = metadata_of(request.headers.get("Upload-Metadata", ""))
        user_id, project_id = principal_of(request).user_id, request.match_info["project_id"]
        state = await self.uploads.create(user_id, project_id, length, metadata)
        location = f"/api/v1/projects/{project_id}/uploads/{state.upload_id}"
        if request.content_type == OFFSET_TYPE and request.can_read_body:
            ids = (user_id, project_id, state.upload_id)
            state = await self._append(request, ids, 0)
        headers = {"Location": location, **_progress(state)}
        return web.Response(status=201, headers=headers)

    async def head(self, request: web.Request) -> web.Response:
        _require_version(request)
        state = await self.uploads.current(*_ids(request))
        headers = {"Upload-Length": str(state.length), **_progress(state)}
        return web.Response(status=200, headers=headers)

    async def patch(self, request: web.Request) -> web.Response:
        _require_version(request)
        if request.content_type != OFFSET_TYPE:
            detail = f"Send the chunk as {OFFSET_TYPE}."
            raise ProblemError(415, "Unsupported Media Type", detail, accepted=[OFFSET_TYPE])
        state = await self._append(request, _ids(request), _integer(request, "Upload-Offset"))
        return web.Response(status=204, headers=_progress(state))

    async def _append(
        self, request: web.Request, ids: tuple[str, str, str], offset: int
    ) -> UploadState:
        checksum = checksum_of(request.headers.get("Upload-Checksum"))
        current = await self.uploads.current(*ids)
        if offset + (request.content_length or 0) > current.length:
            raise ProblemError(413, "Past Upload-Length", "The chunk goes past Upload-Length.")
        chunks = request.content.iter_chunked(CHUNK_BYTES)
        return await self.uploads.append(ids, offset, chunks, checksum)

    async def delete(self, request: web.Request) -> web.Response:
        _require_version(request)
        await self.uploads.terminate(*_ids(request))
        return web.Response(status=204)


def _ids(request: web.Request) -> tuple[str, str, str]:
    info = request.match_info
    return principal_of(request).user_id, info["project_id"], info["upload_id"]


def _progress(state: UploadState) -> dict[str, str]:
    """The offset, the expiry, and once finished the video it became."""
    headers = {"Upload-Offset": str(state.offset), "Upload-Expires": _expires(state)}
    if state.done_video_id:
        video = f"/api/v1/projects/{state.project_id}/videos/{state.done_video_id}"
        headers |= {"Cliptrail-Video-Id": state.done_video_id, "Cliptrail-Video-Location": video}
    return headers
