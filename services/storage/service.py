"""Storage logic: push a work file to the bucket, describe what was stored, presign reads."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from libs.errors import PermanentError
from libs.messaging.bus import EventBus
from libs.messaging.events import (
    OBJECT_CREATED,
    OBJECT_DELETED,
    DeleteReply,
    DeleteRequest,
    HeadReply,
    HeadRequest,
    KeyFailure,
    ListedObject,
    ListReply,
    ListRequest,
    ObjectEvent,
    ObjectEventData,
    PresignReply,
    PresignRequest,
    PushReply,
    PushRequest,
    R2Object,
    encode,
    object_event,
    utcnow,
)
from libs.messaging.topology import Topology
from libs.storage.keys import InvalidKeyError, ParsedKey, parse_key
from libs.storage.objectstore import ListedEntry, ObjectStore, PutCondition, StoredObject

REQUEST_ID_META = "push-request-id"
# Object metadata that repeats the key's parts; records carry those as fields already.
IDENTITY_META = frozenset(
    {REQUEST_ID_META, "user-id", "project-id", "video-id", "file-type", "scene-id"}
)


def parse_or_reject(key: str) -> ParsedKey:
    try:
        return parse_key(key)
    except InvalidKeyError as exc:
        raise PermanentError(str(exc)) from exc


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
        object=R2Object(key=stored.key, size=stored.size, eTag=stored.etag),
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

    async def push(self, request: PushRequest) -> ObjectEvent:
        """Upload, verify, announce. Safe to repeat: the same bytes give the same event id."""
        parsed = parse_or_reject(request.key)
        path = inside_work_dir(self.work_dir, request.local_path)
        stored = await self._upload_or_find(request, parsed, path)
        event = created_event(self.store.bucket, parsed, stored)
        await self._announce(event)
        return event

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

    async def presign(self, request: PresignRequest) -> PresignReply:
        parse_or_reject(request.key)
        return PresignReply(url=await self.store.presign_get(request.key, self.presign_ttl_seconds))

    async def push_now(self, request: PushRequest) -> PushReply:
        """A push over request-reply: the reply comes once the object is stored and announced."""
        event = await self.push(request)
        obj = event.data.object
        return PushReply(key=obj.key, size=obj.size, etag=obj.eTag)

    async def delete(self, request: DeleteRequest) -> DeleteReply:
        """DeleteObjects, then a deleted event for every key the store confirmed gone."""
        etags = {ref.key: ref.etag for ref in request.objects}
        outcome = await self.store.delete_many(list(etags))
        events = [deleted_event(self.store.bucket, key, etags[key]) for key in outcome.deleted]
        await asyncio.gather(*(self._announce(event) for event in events))
        failed = [KeyFailure(key=key, error=error) for key, error in outcome.failed.items()]
        return DeleteReply(deleted=outcome.deleted, failed=failed)

    async def _announce(self, event: ObjectEvent) -> None:
        subject = self.topology.subject(event.type)
        await self.bus.publish(subject, encode(event), msg_id=event.id)

    async def list_page(self, request: ListRequest) -> ListReply:
        page = await self.store.list_page(
            request.prefix, request.continuation_token, request.max_keys
        )
        objects = [listed(entry) for entry in page.entries]
        return ListReply(objects=objects, next_token=page.next_token)

    async def head(self, request: HeadRequest) -> HeadReply:
        stored = await self.store.head(request.key)
        if stored is None:
            return HeadReply()
        entry = ListedObject(
            key=stored.key,
            size=stored.size,
            etag=stored.etag,
            last_modified=stored.last_modified or utcnow(),
        )
        metadata = {k: v for k, v in stored.metadata.items() if k not in IDENTITY_META}
        return HeadReply(object=entry, content_type=stored.content_type, metadata=metadata)


def listed(entry: ListedEntry) -> ListedObject:
    return ListedObject(
        key=entry.key, size=entry.size, etag=entry.etag, last_modified=entry.last_modified
    )


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
