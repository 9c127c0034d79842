"""Storage's rules. Storage holds the bucket's credentials but never the bytes: it presigns the
transfers others make (PUT, UploadPart, GET), begins, completes and aborts multipart uploads,
verifies every object (size and ETag) before it announces it, deletes in batches and announces
each deletion, and sweeps multipart uploads abandoned longer than a grace period. Every key must
follow the layout (InvalidKeyError otherwise)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from libs.errors import ConflictError, PermanentError
from libs.messaging.bus import EventBus
from libs.messaging.events import (
    OBJECT_CREATED,
    OBJECT_DELETED,
    AbortUploadRequest,
    BeginUploadRequest,
    CommitRequest,
    CompleteUploadRequest,
    DeleteRequest,
    HeadRequest,
    ListRequest,
    NewObject,
    ObjectEvent,
    ObjectEventData,
    PartUrlsRequest,
    PresignRequest,
    PutUrlRequest,
    R2Object,
    encode,
    object_event,
    utcnow,
)
from libs.messaging.topology import Topology
from libs.storage.keys import InvalidKeyError, ParsedKey, check_prefix, is_deletable, parse_key
from libs.storage.objects import StoredObject
from libs.storage.objectstore import (
    DeleteOutcome,
    ListPage,
    ObjectStore,
    PartDone,
    PresignedPut,
    PutCondition,
    multipart_etag,
)

NOT_OURS = "refused: not a cliptrail object key"
# Object metadata that repeats the key's parts; records carry those as fields already.
IDENTITY_META = frozenset({"user-id", "project-id", "video-id", "file-type", "scene-id"})


def object_metadata(new: NewObject, parsed: ParsedKey) -> dict[str, str]:
    """The caller's metadata plus who the object belongs to (read back by reconcile)."""
    ids = {"user-id": parsed.user_id, "file-type": parsed.file_type}
    optional = {
        "project-id": parsed.project_id,
        "video-id": parsed.video_id,
        "scene-id": new.scene_id,
    }
    return {**new.metadata, **ids, **{k: v for k, v in optional.items() if v}}


def condition_of(request: PutUrlRequest) -> PutCondition | None:
    if request.if_match or request.if_none_match:
        return PutCondition(request.if_match, request.if_none_match)
    return None


def created_event(bucket: str, parsed: ParsedKey, stored: StoredObject) -> ObjectEvent:
    data = ObjectEventData(
        action="CompleteMultipartUpload" if "-" in stored.etag else "PutObject",
        bucket=bucket,
        object=R2Object.of(stored),
        eventTime=utcnow(),
        user_id=parsed.user_id,
        project_id=parsed.project_id,
        video_id=parsed.video_id,
        file_type=parsed.file_type,
        content_type=stored.content_type,
        scene_id=stored.metadata.get("scene-id"),
        metadata={k: v for k, v in stored.metadata.items() if k not in IDENTITY_META},
    )
    return object_event(OBJECT_CREATED, data)


def deleted_event(bucket: str, key: str, etag: str) -> ObjectEvent:
    """The deleted event of a key; keys outside the layout carry no owner."""
    try:
        parsed: ParsedKey | None = parse_key(key)
    except InvalidKeyError:
        parsed = None
    data = ObjectEventData(
        action="DeleteObjects",
        bucket=bucket,
        object=R2Object(key=key, size=0, eTag=etag),
        eventTime=utcnow(),
        user_id=parsed.user_id if parsed else None,
        project_id=parsed.project_id if parsed else None,
        video_id=parsed.video_id if parsed else None,
        file_type=parsed.file_type if parsed else None,
        content_type="",
    )
    return object_event(OBJECT_DELETED, data)


@dataclass(frozen=True)
class Timing:
    transfer_ttl_seconds: int  # presigned PUTs and parts: as long as one transfer needs
    read_ttl_seconds: int  # presigned GETs handed to clients
    abandoned_after_seconds: float  # multipart uploads older than this are swept


@dataclass
class StorageService:
    store: ObjectStore
    bus: EventBus
    topology: Topology
    timing: Timing
    now: Callable[[], datetime] = utcnow

    async def put_url(self, request: PutUrlRequest) -> PresignedPut:
        new = request.object
        metadata = object_metadata(new, parse_key(new.key))
        return await self.store.presign_put(
            new.key, new.content_type, metadata, condition_of(request), self._transfer_ttl
        )

    async def begin_upload(self, request: BeginUploadRequest) -> str:
        new = request.object
        metadata = object_metadata(new, parse_key(new.key))
        return await self.store.begin_multipart(new.key, new.content_type, metadata)

    async def part_urls(self, request: PartUrlsRequest) -> list[str]:
        parse_key(request.key)
        numbers = range(request.first, request.first + request.count)
        presign = self.store.presign_part
        ttl = self._transfer_ttl
        return list(
            await asyncio.gather(
                *(presign(request.key, request.upload_id, n, ttl) for n in numbers)
            )
        )

    async def complete_upload(self, request: CompleteUploadRequest) -> StoredObject:
        """Complete, verify, announce. Safe to repeat once the upload is complete."""
        parsed = parse_key(request.key)
        parts = sorted(request.parts, key=lambda part: part.number)
        expected = multipart_etag([part.etag for part in parts])
        done = [PartDone(part.number, part.etag) for part in parts]
        try:
            await self.store.complete_multipart(request.key, request.upload_id, done)
        except PermanentError:
            if not await self._holds(request.key, request.size, expected):
                raise  # not a repeat of a completion that already happened
        return await self._announced(
            parsed, await self._verified(request.key, request.size, expected)
        )

    async def commit(self, request: CommitRequest) -> StoredObject:
        """Verify an object a presigned PUT wrote, then announce it. Safe to repeat."""
        parsed = parse_key(request.key)
        stored = await self._verified(request.key, request.size, request.etag)
        return await self._announced(parsed, stored)

    async def abort_upload(self, request: AbortUploadRequest) -> None:
        parse_key(request.key)
        await self.store.abort_multipart(request.key, request.upload_id)

    async def sweep_abandoned(self) -> int:
        """Abort every multipart upload begun longer ago than the grace period."""
        cutoff = self.now() - timedelta(seconds=self.timing.abandoned_after_seconds)
        stale = [u for u in await self.store.open_uploads() if u.initiated < cutoff]
        for upload in stale:
            await self.store.abort_multipart(upload.key, upload.upload_id)
        return len(stale)

    async def _holds(self, key: str, size: int, etag: str) -> bool:
        stored = await self.store.head(key)
        return stored is not None and (stored.size, stored.etag) == (size, etag)

    async def _verified(self, key: str, size: int, etag: str) -> StoredObject:
        stored = await self.store.head(key)
        if stored is None:
            raise PermanentError(f"nothing was written to {key}")
        if (stored.size, stored.etag) != (size, etag):
            raise ConflictError(
                f"{key} holds {stored.size} bytes, etag {stored.etag}; "
                f"expected {size} bytes, etag {etag}"
            )
        return stored

    async def _announced(self, parsed: ParsedKey, stored: StoredObject) -> StoredObject:
        await self._announce(created_event(self.store.bucket, parsed, stored))
        return _without_identity(stored)

    @property
    def _transfer_ttl(self) -> int:
        return self.timing.transfer_ttl_seconds

    async def presign(self, request: PresignRequest) -> str:
        parse_key(request.key)
        return await self.store.presign_get(request.key, self.timing.read_ttl_seconds)

    async def delete(self, request: DeleteRequest) -> DeleteOutcome:
        """DeleteObjects, then a deleted event for every key the store confirmed gone. A key
        that is not cliptrail's (outside the layout) is refused, the others still go."""
        etags = {ref.key: ref.etag for ref in request.objects if is_deletable(ref.key)}
        refused = {ref.key: NOT_OURS for ref in request.objects if ref.key not in etags}
        done = await self.store.delete_many(list(etags)) if etags else DeleteOutcome([], {})
        outcome = DeleteOutcome(done.deleted, {**done.failed, **refused})
        events = [deleted_event(self.store.bucket, key, etags[key]) for key in outcome.deleted]
        await asyncio.gather(*(self._announce(event) for event in events))
        return outcome

    async def _announce(self, event: ObjectEvent) -> None:
        subject = self.topology.subject(event.type)
        await self.bus.publish(subject, encode(event), msg_id=event.id)

    async def list_page(self, request: ListRequest) -> ListPage:
        return await self.store.list_page(
            check_prefix(request.prefix), request.continuation_token, request.max_keys
        )

    async def head(self, request: HeadRequest) -> StoredObject | None:
        """What is at a key, without the metadata that only repeats the key's parts."""
        stored = await self.store.head(request.key)
        return _without_identity(stored) if stored else None

    async def ping(self) -> None:
        await self.store.ping()


def _without_identity(stored: StoredObject) -> StoredObject:
    metadata = {k: v for k, v in stored.metadata.items() if k not in IDENTITY_META}
    return stored.model_copy(update={"metadata": metadata})
