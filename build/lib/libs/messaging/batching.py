"""Gather items submitted concurrently into one write (or one lookup), each submitter awaiting
its own fate."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K")


class MicroBatcher(Generic[T]):
    def __init__(
        self, flush: Callable[[list[T]], Awaitable[None]], max_size: int, max_wait: float = 0.01
    ) -> None:
        self._flush = flush
        self._max_size = max_size
        self._max_wait = max_wait
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Task[None]] = set()  # strong references while in flight

    async def submit(self, item: T) -> None:
        """Return once the batch holding `item` is written; raise what the write raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if len(self._pending) >= self._max_size:
            self._start_flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_wait, self._start_flush)
        await done

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.create_task(self._write(batch))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._flush([item for item, _ in batch])
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)


class BatchedLookup(Generic[K]):
    """Membership questions asked concurrently, answered by one query. A question joins only a
    query not yet sent, so each answer is as fresh as a query of its own would have been."""

    def __init__(self, query: Callable[[list[K]], Awaitable[set[K]]]) -> None:
        self._query = query
        self._pending: dict[K, asyncio.Future[bool]] = {}
        self._queries: set[asyncio.Task[None]] = set()  # strong references while in flight

    async def contains(self, item: K) -> bool:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._send)
        answer = self._pending.get(item)
        if answer is None:
            answer = self._pending[item] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(answer)

    def _send(self) -> None:
        batch, self._pending = self._pending, {}
        task = asyncio.create_task(self._answer(batch))
        self._queries.add(task)
        task.add_done_callback(self._queries.discard)

    async def _answer(self, batch: dict[K, asyncio.Future[bool]]) -> None:
        try:
            found = await self._query(list(batch))
        except Exception as exc:
            for answer in batch.values():
                answer.set_exception(exc)
            return
        for item, answer in batch.items():
            answer.set_result(item in found)
