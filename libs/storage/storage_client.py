"""Asking storage (the only holder of R2 credentials) over NATS request-reply, typed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from libs.messaging.bus import EventBus
from libs.messaging.events import (
    DeleteReply,
    DeleteRequest,
    HeadReply,
    HeadRequest,
    ListedObject,
    ListReply,
    ListRequest,
    ObjectRef,
    PresignReply,
    PresignRequest,
    PushReply,
    PushRequest,
)
from libs.messaging.rpc import ask
from libs.messaging.topology import Topology
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

    async def list_pages(self, prefix: str) -> AsyncIterator[list[ListedObject]]:
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

    async def head(self, key: str) -> HeadReply:
        return await self._ask(self.topology.head_rpc, HeadRequest(key=key), HeadReply)

    async def presign(self, key: str) -> str | None:
        reply = await self._ask(self.topology.presign, PresignRequest(key=key), PresignReply)
        return reply.url

    async def push(self, request: PushRequest) -> PushReply:
        return await self._ask(self.topology.push_rpc, request, PushReply)
