"""Storage's NATS edges: the push consumer and its dead-letter hook, and the request-reply
answers; each decodes a message, calls the service and makes the reply."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from libs.errors import CliptrailError
from libs.messaging.bus import Delivery, EventBus
from libs.messaging.events import (
    DeleteReply,
    DeleteRequest,
    HeadReply,
    HeadRequest,
    KeyFailure,
    ListReply,
    ListRequest,
    Ping,
    PingReply,
    PresignReply,
    PresignRequest,
    PushFailed,
    PushReply,
    PushRequest,
    decode,
    encode,
)
from libs.messaging.topology import Topology
from services.storage.service import StorageService

log = structlog.get_logger(__name__)


@dataclass
class StorageHandlers:
    service: StorageService
    bus: EventBus
    topology: Topology

    async def on_push(self, delivery: Delivery) -> None:
        request = decode(PushRequest, delivery.data)
        with structlog.contextvars.bound_contextvars(key=request.key):
            stored = await self.service.push(request)
            log.info("object_stored", size=stored.size, etag=stored.etag)

    async def on_push_dead(self, delivery: Delivery, reason: str) -> None:
        """Tell the requester a push will never happen, so it can mark its work failed."""
        try:
            request = decode(PushRequest, delivery.data)
        except CliptrailError:
            return
        failed = PushFailed(request_id=request.request_id, key=request.key, reason=reason)
        await self.bus.publish(
            self.topology.push_failed, encode(failed), msg_id=f"failed:{request.request_id}"
        )

    async def push(self, request: PushRequest) -> PushReply:
        """A push over request-reply: answered once the object is stored and announced."""
        return PushReply(object=await self.service.push(request))

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
