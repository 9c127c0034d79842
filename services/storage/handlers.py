"""Storage's NATS edges: the push consumer, its dead-letter hook, and request-reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from pydantic import BaseModel

from libs.errors import CliptrailError, ConflictError, PermanentError
from libs.messaging.bus import Delivery, EventBus, Responder
from libs.messaging.events import (
    DeleteReply,
    DeleteRequest,
    HeadReply,
    HeadRequest,
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
Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=BaseModel)


def rpc(
    request_type: type[Req], reply_type: type[Rep], call: Callable[[Req], Awaitable[Rep]]
) -> Responder:
    """A request-reply answer: decode, call, encode; a failure becomes the reply's error."""

    async def answer(payload: bytes) -> bytes:
        try:
            return encode(await call(decode(request_type, payload)))
        except PermanentError as exc:
            conflict = isinstance(exc, ConflictError)
            answer = {"error": str(exc), "permanent": True, "conflict": conflict}
            return encode(reply_type.model_validate(answer))
        except CliptrailError as exc:
            log.warning("request_failed", request=request_type.__name__, error=str(exc))
            return encode(reply_type.model_validate({"error": str(exc)}))

    return answer


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

    async def ping(self, _request: Ping) -> PingReply:
        await self.service.store.ping()
        return PingReply()

    def responders(self) -> dict[str, Responder]:
        """Every request-reply subject storage answers."""
        service, topology = self.service, self.topology
        return {
            topology.presign: rpc(PresignRequest, PresignReply, service.presign),
            topology.storage_ping: rpc(Ping, PingReply, self.ping),
            topology.push_rpc: rpc(PushRequest, PushReply, service.push_now),
            topology.delete_rpc: rpc(DeleteRequest, DeleteReply, service.delete),
            topology.list_rpc: rpc(ListRequest, ListReply, service.list_page),
            topology.head_rpc: rpc(HeadRequest, HeadReply, service.head),
        }
