"""Storage's rules: push a work file to the bucket, verify and announce it, presign reads,
delete in batches and announce each deletion; keys outside the layout are refused."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from libs.errors import PermanentError
from libs.messaging.bus import EventBus
from libs.messaging.events import (
    OBJECT_CREATED,
    OBJECT_DELETED,
    DeleteRequest,
    HeadRequest,
    ListRequest,
    ObjectEvent,
    ObjectEventData,
    PresignRequest,
    PushRequest,
    R2Object,
    encode,
    object_event,
    utcnow,
)
from libs.messaging.topology import Topology
from libs.storage.keys import InvalidKeyError, ParsedKey, check_prefix, is_deletable, parse_key
from libs.storage.objects import StoredObject
from libs.storage.objectstore import DeleteOutcome, ListPage, ObjectStore, PutCondition

REQUEST_ID_META = "push-request-id"
NOT_OURS = "refused: not a cliptrail object key"
# Object metadata that repeats the key's parts; records carry those as fields already.
IDENTITY_META = frozenset(
    {REQUEST_ID_META, "user-id", "project-id", "video-id", "file-type", "scene-id"}
)


def inside_work_dir(work_dir: Path, local_path: str) -> Path:
    """Storage only reads files under its work dir, whatever a message says."""
    refused = PermanentError("local_path must name a file inside the work dir")
    if "\x00" in local_path:
        raise refused
    root = work_dir.resolve()
    candidate = (root / local_path).resolve()
    if not candidate.is_relative_to(root) or candidate == root:
        raise refused
    return candidate


def object_metadata(request: PushRequest, parsed: ParsedKey) -> dict[str, str]:
    ids = {"user-id": parsed.user_id, "file-type": parsed.file_type}
    if parsed.project_id:
        ids["project-id"] = parsed.project_id
    if parsed.video_id:
        ids["video-id"] = parsed.video_id
    return {**request.metadata, **ids, REQUEST_ID_META: request.request_id}


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


@dataclass
class StorageService:
    store: ObjectStore
    bus: EventBus
    topology: Topology
    work_dir: Path
    presign_ttl_seconds: int

    async def push(self, request: PushRequest) -> StoredObject:
        """Upload, verify, announce. Safe to repeat: the same bytes give the same event id."""
        parsed = parse_key(request.key)
        path = inside_work_dir(self.work_dir, request.local_path)
        stored = await self._upload_or_find(request, parsed, path)
        await self._announce(created_event(self.store.bucket, parsed, stored))
        return stored

    async def _upload_or_find(
        self, request: PushRequest, parsed: ParsedKey, path: Path
    ) -> StoredObject:
        if await asyncio.to_thread(path.is_file):
            metadata = object_metadata(request, parsed)
            if request.scene_id:
                metadata["scene-id"] = request.scene_id
            conditional = request.if_match or request.if_none_match
            condition = (
                PutCondition(request.if_match, request.if_none_match) if conditional else None
            )
            return await self.store.put_file(
                request.key, path, request.content_type, metadata, condition
            )
        # The work file goes once the object is announced; a redelivery may find it gone.
        stored = await self.store.head(request.key)
        if stored is None or stored.metadata.get(REQUEST_ID_META) != request.request_id:
            raise PermanentError(f"local file to push is missing: {path.name}")
        return stored

    async def presign(self, request: PresignRequest) -> str:
        parse_key(request.key)
        return await self.store.presign_get(request.key, self.presign_ttl_seconds)

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
        if stored is None:
            return None
        metadata = {k: v for k, v in stored.metadata.items() if k not in IDENTITY_META}
        return stored.model_copy(update={"metadata": metadata})

    async def ping(self) -> None:
        await self.store.ping()


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
