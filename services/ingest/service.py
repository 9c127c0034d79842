"""Ingest's rules: projects and videos of one user, what an upload must pass before it is kept,
its hand-over to storage and render, a video's clips, and project deletion."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
from libs.media.probe import MediaInfo, require_storable
from libs.messaging.bus import EventBus
from libs.messaging.events import CleanupRequest, PushRequest, RenderRequest, encode
from libs.messaging.topology import Topology
from libs.storage.keys import is_valid_id, new_id, source_key
from libs.storage.storage_client import StorageClient
from libs.storage.tracking_client import TrackingClient
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


@dataclass(frozen=True)
class ReceivedUpload:
    """What arrived: the body's size and where it waits, and the form's other fields."""

    path: Path
    size: int = 0
    filename: str | None = None
    highlights: bytes | None = None


@dataclass(frozen=True)
class VettedUpload:
    """An upload that passed every rule, ready to be kept."""

    info: MediaInfo
    size: int
    filename: str | None
    highlights: list[Highlight] | None


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

    async def vet_upload(self, user_id: str, received: ReceivedUpload) -> VettedUpload:
        """A plain filename, valid highlights, a decodable video they fit, room in the quota."""
        filename = check_filename(received.filename)
        highlights = parse_highlights(received.highlights) if received.highlights else None
        info = require_storable(await self.probe(received.path, extension_of(filename)))
        check_limits(info, self.limits)
        if highlights is not None:
            check_against_duration(highlights, info.duration)
        await self.check_quota(user_id, received.size)
        return VettedUpload(info, received.size, filename, highlights)

    async def accept_upload(self, user_id: str, upload: AcceptedUpload) -> Video:
        """Record the video as uploading and queue its push; unavailable if the queue is down."""
        video = upload.as_video(user_id)
        await self.catalog.add_video(user_id, video)
        request = PushRequest(
            request_id=f"source:{upload.video_id}",
            local_path=upload.local_path,
            key=video.r2_key,
            content_type=upload.vetted.info.content_type,
        )
        try:
            await self.bus.publish(self.topology.push, encode(request), msg_id=request.request_id)
        except CliptrailError as exc:
            await self.catalog.move_video(
                user_id, video.video_id, "failed", ("uploading",), str(exc)
            )
            raise UnavailableError("The upload could not be queued.") from exc
        return video

    async def url_for(self, video: Video) -> str | None:
        return await self.url_of(video.r2_key) if video.status in LIVE else None

    async def url_of(self, key: str) -> str | None:
        """A presigned (or public) URL; None while storage cannot say, which is logged."""
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

    async def check_quota(self, user_id: str, incoming_bytes: int) -> None:
        if not self.quota_bytes:
            return
        used = sum(usage.bytes for usage in await self.ledger.usage("user", user_id))
        if used + incoming_bytes > self.quota_bytes:
            raise TooLargeError(
                f"{used} of {self.quota_bytes} bytes are used; this upload needs {incoming_bytes}.",
                "Storage quota exceeded",
                used_bytes=used,
                quota_bytes=self.quota_bytes,
            )


@dataclass(frozen=True)
class AcceptedUpload:
    project_id: str
    video_id: str
    vetted: VettedUpload
    local_path: str  # relative to the work dir, where storage reads it

    def as_video(self, user_id: str) -> Video:
        info, highlights, now = self.vetted.info, self.vetted.highlights, now_iso()
        return Video(
            video_id=self.video_id,
            project_id=self.project_id,
            status="uploading",
            r2_key=source_key(user_id, self.project_id, self.video_id, info.extension),
            filename=self.vetted.filename,
            size_bytes=self.vetted.size,
            content_type=info.content_type,
            duration=info.duration,
            highlights=dump_highlights(highlights) if highlights is not None else None,
            error=None,
            created_at=now,
            updated_at=now,
        )
