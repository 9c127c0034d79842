"""Ingest's rules: projects and videos of one user, what an upload must pass before it is kept,
its hand-over to storage and render, a video's clips, and project deletion."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from libs.errors import (
    CliptrailError,
    InvalidError,
    NotFoundError,
    StateError,
    TooLargeError,
    UnavailableError,
)
from libs.media.highlights import (
    Highlight,
    check_against_duration,
    dump_highlights,
    parse_highlights,
)
from libs.media.limits import MediaLimits, check_limits
from libs.media.probe import CONTENT_TYPES, MediaInfo, NotAVideoError, require_storable
from libs.media.sniff import SNIFF_BYTES, sniff_extension
from libs.messaging.bus import EventBus
from libs.messaging.events import CleanupRequest, NewObject, ObjectRef, RenderRequest, encode
from libs.messaging.topology import Topology
from libs.storage.keys import is_valid_id, new_id, source_key
from libs.storage.objects import StoredObject
from libs.storage.storage_client import StorageClient
from libs.storage.tracking_client import TrackingClient
from libs.storage.transfer import Uploader
from services.ingest.catalog import Catalog, Project, Video, now_iso
from services.ingest.clips import ClipEntry, ManifestReader, clip_entries

log = structlog.get_logger(__name__)
MAX_NAME = 200
LIVE = ("stored", "rendering", "ready")
# The statuses a video may be in for a render status to move it (a retry may follow a failure).
RENDER_MOVES: dict[str, tuple[str, ...]] = {
    "rendering": ("stored", "failed", "ready"),
    "ready": ("stored", "rendering"),
    "failed": ("stored", "rendering"),
}
Probe = Callable[[Path | str, str], Awaitable[MediaInfo]]


def not_found(what: str) -> NotFoundError:
    return NotFoundError(f"No such {what}.")


def _has_odd_characters(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in text)


def check_project_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidError(f"'name' must be 1 to {MAX_NAME} characters.", "Invalid project")
    if _has_odd_characters(name):
        raise InvalidError("'name' contains control characters.", "Invalid project")
    return name.strip()


def check_filename(name: str | None) -> str | None:
    """A filename is kept for display only; anything path-like or odd is refused."""
    if name is None:
        return None
    path_like = "/" in name or "\\" in name or name in ("", ".", "..")
    if path_like or len(name) > 255 or _has_odd_characters(name):
        raise InvalidError("The filename must be a plain file name.", "Invalid filename")
    return name


def extension_of(filename: str | None) -> str:
    return filename.rpartition(".")[2].lower() if filename and "." in filename else ""


def project_view(project: Project) -> dict[str, Any]:
    return asdict(project)


def video_view(video: Video, url: str | None) -> dict[str, Any]:
    view = {k: v for k, v in asdict(video).items() if k not in ("project_id", "highlights")}
    return {**view, "url": url}


class UploadBody(Protocol):
    """An upload arriving over HTTP: the video's bytes once, then the form's other fields."""

    @property
    def filename(self) -> str | None: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def highlights(self) -> bytes | None: ...


@dataclass(frozen=True)
class Arrived:
    """Whose upload it is, and what its name and first bytes said."""

    user_id: str
    project_id: str
    video_id: str
    filename: str | None
    extension: str


@dataclass(frozen=True)
class Vetted:
    """What the stored upload turned out to be, once every rule passed."""

    info: MediaInfo
    highlights: list[Highlight] | None


async def sniffed(chunks: AsyncIterator[bytes]) -> tuple[bytes, AsyncIterator[bytes]]:
    """The body's first bytes, and the whole body again as chunks."""
    head = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    return head, _prefixed(head, chunks)


async def _prefixed(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in rest:
        yield chunk


@dataclass(frozen=True)
class Clips:
    """A video's clips, or None while it is still being processed."""

    status: str
    entries: list[ClipEntry] | None


@dataclass
class IngestService:
    catalog: Catalog
    bus: EventBus
    topology: Topology
    ledger: TrackingClient
    manifests: ManifestReader
    uploader: Uploader
    probe: Probe
    limits: MediaLimits
    quota_bytes: int = 0  # 0: unlimited

    @property
    def storage(self) -> StorageClient:
        return StorageClient(self.bus, self.topology, timeout=5.0)

    async def create_project(self, user_id: str, name: object) -> Project:
        project = Project(new_id(), check_project_name(name), now_iso())
        await self.catalog.create_project(user_id, project)
        return project

    async def project(self, user_id: str, project_id: str) -> Project:
        found = is_valid_id(project_id) and await self.catalog.get_project(user_id, project_id)
        if not found:
            raise not_found("project")
        return found

    async def video(self, user_id: str, project_id: str, video_id: str) -> Video:
        await self.project(user_id, project_id)
        found = is_valid_id(video_id) and await self.catalog.get_video(
            user_id, project_id, video_id
        )
        if not found:
            raise not_found("video")
        return found

    async def upload(
        self, user_id: str, project_id: str, body: UploadBody, used_bytes: int
    ) -> Video:
        """Stream the body into the bucket, check the stored video, and keep it (listed as
        stored, its render requested) or take it back out of the bucket."""
        video_id = new_id()
        structlog.contextvars.bind_contextvars(project_id=project_id, video_id=video_id)
        filename = check_filename(body.filename)
        head, chunks = await sniffed(body.chunks())
        extension = sniff_extension(head, extension_of(filename))
        key = source_key(user_id, project_id, video_id, extension)
        new = NewObject(key=key, content_type=CONTENT_TYPES[extension])
        stored = await self.uploader.put_stream(chunks, new)
        arrived = Arrived(user_id, project_id, video_id, filename, extension)
        return await self.keep(arrived, stored, body.highlights, used_bytes)

    async def keep(
        self,
        arrived: Arrived,
        stored: StoredObject,
        highlights: Callable[[], Awaitable[bytes | None]],
        used_bytes: int,
    ) -> Video:
        """A video whose bytes are all in the bucket (one request or resumable): vetted and
        listed as stored with its render requested, or taken back out of the bucket."""
        try:
            vetted = await self._vet(stored, arrived.extension, await highlights())
            self._check_room(used_bytes, stored.size)
            video = video_of(arrived, stored, vetted)
            await self.catalog.add_video(arrived.user_id, video)
        except BaseException:
            await self._take_back(stored)
            raise
        await self._hand_to_render(arrived.user_id, video)
        return video

    async def _vet(self, stored: StoredObject, extension: str, raw: bytes | None) -> Vetted:
        """A decodable video of the container its first bytes announced, within the limits,
        that its highlights fit."""
        highlights = parse_highlights(raw) if raw else None
        url = await self.storage.presign(stored.key)
        if url is None:
            raise UnavailableError("The stored upload cannot be read back to be checked.")
        info = require_storable(await self.probe(url, extension))
        if info.extension != extension:
            raise NotAVideoError("its content is not the container its first bytes announce")
        check_limits(info, self.limits)
        if highlights is not None:
            check_against_duration(highlights, info.duration)
        return Vetted(info, highlights)

    async def _take_back(self, stored: StoredObject) -> None:
        """A refused upload leaves nothing behind: its object (and so its record) goes."""
        ref = ObjectRef(key=stored.key, etag=stored.etag)
        try:
            await asyncio.shield(self.storage.delete([ref]))
        except CliptrailError as exc:  # tracked, so the project's cleanup still finds it
            log.error("refused_upload_not_deleted", key=stored.key, error=str(exc))

    async def _hand_to_render(self, user_id: str, video: Video) -> None:
        try:
            await self.request_render(user_id, video)
        except CliptrailError as exc:
            reason = f"the render could not be queued: {exc}"
            await self.catalog.move_video(user_id, video.video_id, "failed", ("stored",), reason)
            detail = "The upload is stored but its render could not be queued."
            raise UnavailableError(detail) from exc

    async def url_for(self, video: Video) -> str | None:
        return await self.url_of(video.r2_key) if video.status in LIVE else None

    async def url_of(self, key: str) -> str | None:
        """A presigned (or public) URL for a client; None while storage cannot say (logged)."""
        try:
            return await self.storage.presign(key)
        except CliptrailError as exc:
            log.warning("presign_unavailable", error=str(exc))
            return None

    async def clips(self, user_id: str, project_id: str, video_id: str) -> Clips:
        """Listed from the ledger's records and highlights.json once the video is ready."""
        video = await self.video(user_id, project_id, video_id)
        if video.status == "failed":
            raise StateError(video.error or "", "Video failed", video_status="failed")
        records = await self.ledger.video_records(video.project_id, video.video_id)
        manifest = next((r for r in records if r.file_type == "highlights"), None)
        if video.status != "ready" or manifest is None:
            return Clips(video.status, None)
        return Clips(video.status, clip_entries(records, await self.manifests.read(manifest)))

    async def delete_project(self, user_id: str, project_id: str) -> None:
        """Queue the cleanup first, then hide the project: a crash between leaks nothing."""
        await self.project(user_id, project_id)
        request = CleanupRequest(user_id=user_id, project_id=project_id)
        try:
            await self.bus.publish(
                self.topology.cleanup, encode(request), msg_id=f"cleanup:{project_id}"
            )
        except CliptrailError as exc:
            raise UnavailableError("Deletion could not be queued.") from exc
        await self.catalog.mark_deleted(user_id, project_id)

    async def request_render(self, user_id: str, video: Video) -> None:
        highlights = parse_highlights(video.highlights) if video.highlights else None
        request = RenderRequest(
            user_id=user_id,
            project_id=video.project_id,
            video_id=video.video_id,
            source_key=video.r2_key,
            highlights=highlights,
        )
        subject = self.topology.render_requested
        await self.bus.publish(subject, encode(request), msg_id=f"render:{video.video_id}")

    async def check_quota(self, user_id: str, incoming_bytes: int) -> int:
        """The bytes the user has stored (0 without a quota); TooLargeError past the quota."""
        if not self.quota_bytes:
            return 0
        used = sum(usage.bytes for usage in await self.ledger.usage("user", user_id))
        self._check_room(used, incoming_bytes)
        return used

    def _check_room(self, used: int, incoming_bytes: int) -> None:
        if self.quota_bytes and used + incoming_bytes > self.quota_bytes:
            raise TooLargeError(
                f"{used} of {self.quota_bytes} bytes are used; this upload needs {incoming_bytes}.",
                "Storage quota exceeded",
                used_bytes=used,
                quota_bytes=self.quota_bytes,
            )


def video_of(arrived: Arrived, stored: StoredObject, vetted: Vetted) -> Video:
    highlights, now = vetted.highlights, now_iso()
    return Video(
        video_id=arrived.video_id,
        project_id=arrived.project_id,
        status="stored",
        r2_key=stored.key,
        filename=arrived.filename,
        size_bytes=stored.size,
        content_type=stored.content_type,
        duration=vetted.info.duration,
        highlights=dump_highlights(highlights) if highlights is not None else None,
        error=None,
        created_at=now,
        updated_at=now,
    )
