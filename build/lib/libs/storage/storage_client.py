"""Asking storage (the only holder of R2 credentials) over NATS request-reply, typed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from libs.errors import TransientError
from libs.messaging.bus import EventBus
from libs.messaging.events import (
    AbortReply,
    AbortUploadRequest,
    BeginUploadReply,
    BeginUploadRequest,
    CommitRequest,
    CompleteUploadRequest,
    DeleteReply,
    DeleteRequest,
    HeadReply,
    HeadRequest,
    ListReply,
    ListRequest,
    NewObject,
    ObjectRef,
    PartUrlsReply,
    PartUrlsRequest,
    Ping,
    PingReply,
    PresignReply,
    PresignRequest,
    PutUrlReply,
    PutUrlRequest,
    StoredReply,
    UploadedPart,
)
from libs.messaging.rpc import ask
from libs.messaging.topology import Topology
from libs.storage.objects import StoredObject
from libs.storage.objectstore import MAX_DELETE_BATCH

R = TypeVar("R", bound=BaseModel)


def _chunks(items: list[ObjectRef], size: int) -> list[list[ObjectRef]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


@dataclass(frozen=True)
class StorageClient:
    bus: EventBus
    topology: Topology
    timeout: float = 60.0

    async def _ask(self, subject: str, request: BaseModel, reply_type: type[R]) -> R:
        return await ask(self.bus, subject, request, reply_type, self.timeout)

    async def delete(self, objects: Sequence[ObjectRef]) -> DeleteReply:
        """Delete any number of keys, 1,000 per DeleteObjects, the batches all at once (over a
        long round trip to R2 one after another would cost a round trip each)."""
        replies = await asyncio.gather(
            *(
                self._ask(self.topology.delete_rpc, DeleteRequest(objects=chunk), DeleteReply)
                for chunk in _chunks(list(objects), MAX_DELETE_BATCH)
            )
        )
        return DeleteReply(
            deleted=[key for reply in replies for key in reply.deleted],
            failed=[failure for reply in replies for failure in reply.failed],
        )

    async def list_pages(self, prefix: str) -> AsyncIterator[list[StoredObject]]:
        """Every object under `prefix`, in key order, a page (up to 1,000) at a time."""
        token: str | None = None
        while True:
            request = ListRequest(prefix=prefix, continuation_token=token)
            page = await self._ask(self.topology.list_rpc, request, ListReply)
            if page.objects:
                yield page.objects
            if not page.next_token:
                return
            token = page.next_token

    async def head(self, key: str) -> StoredObject | None:
        """What the bucket holds at `key` now (None: nothing)."""
        return (await self._ask(self.topology.head_rpc, HeadRequest(key=key), HeadReply)).object

    async def presign(self, key: str) -> str | None:
        reply = await self._ask(self.topology.presign, PresignRequest(key=key), PresignReply)
        return reply.url

    async def put_url(self, request: PutUrlRequest) -> PutUrlReply:
        reply = await self._ask(self.topology.put_url, request, PutUrlReply)
        if reply.url is None:
            raise TransientError(f"storage presigned no PUT for {request.object.key}")
        return reply

    async def commit(self, key: str, size: int, etag: str) -> StoredObject:
        """Verified (size, MD5) and announced once this returns."""
        request = CommitRequest(key=key, size=size, etag=etag)
        return _stored(await self._ask(self.topology.commit, request, StoredReply), key)

    async def begin_upload(self, new: NewObject) -> str:
        request = BeginUploadRequest(object=new)
        reply = await self._ask(self.topology.begin_upload, request, BeginUploadReply)
        if reply.upload_id is None:
            raise TransientError(f"storage began no upload for {new.key}")
        return reply.upload_id

    async def part_urls(self, key: str, upload_id: str, first: int, count: int) -> list[str]:
        request = PartUrlsRequest(key=key, upload_id=upload_id, first=first, count=count)
        return (await self._ask(self.topology.part_urls, request, PartUrlsReply)).urls

    async def complete_upload(
        self, key: str, upload_id: str, parts: list[UploadedPart], size: int
    ) -> StoredObject:
        """Completed, verified and announced once this returns."""
        request = CompleteUploadRequest(key=key, upload_id=upload_id, parts=parts, size=size)
        return _stored(await self._ask(self.topology.complete_upload, request, StoredReply), key)

    async def abort_upload(self, key: str, upload_id: str) -> None:
        request = AbortUploadRequest(key=key, upload_id=upload_id)
        await self._ask(self.topology.abort_upload, request, AbortReply)

    async def ping(self) -> None:
        """Storage answers, and so does its bucket (a failure raises)."""
        await self._ask(self.topology.storage_ping, Ping(), PingReply)


def _stored(reply: StoredReply, key: str) -> StoredObject:
    if reply.object is None:
        raise TransientError(f"storage answered for {key} without the object")
    return reply.object
