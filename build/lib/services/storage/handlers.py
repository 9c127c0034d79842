"""Storage's NATS edges: the request-reply answers and the periodic sweep; each decodes a
message, calls the service and makes the reply."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

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
    KeyFailure,
    ListReply,
    ListRequest,
    PartUrlsReply,
    PartUrlsRequest,
    Ping,
    PingReply,
    PresignReply,
    PresignRequest,
    PutUrlReply,
    PutUrlRequest,
    StoredReply,
)
from services.storage.service import StorageService

log = structlog.get_logger(__name__)


@dataclass
class StorageHandlers:
    service: StorageService

    async def put_url(self, request: PutUrlRequest) -> PutUrlReply:
        presigned = await self.service.put_url(request)
        return PutUrlReply(url=presigned.url, headers=presigned.headers)

    async def begin_upload(self, request: BeginUploadRequest) -> BeginUploadReply:
        return BeginUploadReply(upload_id=await self.service.begin_upload(request))

    async def part_urls(self, request: PartUrlsRequest) -> PartUrlsReply:
        return PartUrlsReply(urls=await self.service.part_urls(request))

    async def complete_upload(self, request: CompleteUploadRequest) -> StoredReply:
        with structlog.contextvars.bound_contextvars(key=request.key):
            stored = await self.service.complete_upload(request)
            log.info("object_stored", size=stored.size, etag=stored.etag, parts=len(request.parts))
        return StoredReply(object=stored)

    async def commit(self, request: CommitRequest) -> StoredReply:
        with structlog.contextvars.bound_contextvars(key=request.key):
            stored = await self.service.commit(request)
            log.info("object_stored", size=stored.size, etag=stored.etag)
        return StoredReply(object=stored)

    async def abort_upload(self, request: AbortUploadRequest) -> AbortReply:
        await self.service.abort_upload(request)
        return AbortReply()

    async def sweep(self) -> None:
        aborted = await self.service.sweep_abandoned()
        if aborted:
            log.info("abandoned_uploads_aborted", count=aborted)

    async def presign(self, request: PresignRequest) -> PresignReply:
        return PresignReply(url=await self.service.presign(request))

    async def ping(self, _request: Ping) -> PingReply:
        await self.service.ping()
        return PingReply()

    async def delete(self, request: DeleteRequest) -> DeleteReply:
        outcome = await self.service.delete(request)
        failed = [KeyFailure(key=key, error=error) for key, error in outcome.failed.items()]
        return DeleteReply(deleted=outcome.deleted, failed=failed)

    async def list_page(self, request: ListRequest) -> ListReply:
        page = await self.service.list_page(request)
        return ListReply(objects=page.entries, next_token=page.next_token)

    async def head(self, request: HeadRequest) -> HeadReply:
        return HeadReply(object=await self.service.head(request))
