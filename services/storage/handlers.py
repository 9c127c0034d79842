"""Storage's NATS edges: the push consumer, its dead-letter hook, and request-reply."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from libs.bus import Delivery, EventBus
from libs.errors import CliptrailError
from libs.events import PresignReply, PresignRequest, PushFailed, PushRequest, decode, encode
from libs.topology import Topology
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
            event = await self.service.push(request)
            log.info("object_stored", size=event.data.object.size, etag=event.data.object.eTag)

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

    async def on_presign(self, payload: bytes) -> bytes:
        try:
            url = await self.service.presign(decode(PresignRequest, payload))
        except CliptrailError as exc:
            return encode(PresignReply(error=str(exc)))
        return encode(PresignReply(url=url))

    async def on_ping(self, _payload: bytes) -> bytes:
        try:
            await self.service.store.ping()
        except CliptrailError as exc:
            return encode(PresignReply(error=str(exc)))
        return encode(PresignReply())
