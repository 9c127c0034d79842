"""MicroBatcher: concurrent submits share one flush and share its fate. BatchedLookup:
concurrent questions share one query, never one sent before they were asked."""

from __future__ import annotations

import asyncio

import pytest

from libs.messaging.batching import BatchedLookup, MicroBatcher


class Recorder:
    def __init__(self, error: Exception | None = None) -> None:
        self.batches: list[list[int]] = []
        self.error = error

    async def flush(self, items: list[int]) -> None:
        self.batches.append(items)
        if self.error is not None:
            raise self.error


async def test_concurrent_submits_are_flushed_in_one_call() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder.flush, max_size=100, max_wait=0.05)
    await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    assert recorder.batches == [list(range(10))]


async def test_a_failing_flush_raises_in_every_submitter() -> None:
    boom = RuntimeError("write failed")
    batcher = MicroBatcher(Recorder(boom).flush, max_size=100, max_wait=0.01)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)
    assert results == [boom] * 5


async def test_max_size_flushes_at_once_without_waiting() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder.flush, max_size=3, max_wait=60.0)
    await asyncio.wait_for(asyncio.gather(*(batcher.submit(i) for i in range(3))), timeout=5)
    assert recorder.batches == [[0, 1, 2]]


async def test_more_than_max_size_is_split_into_full_batches_then_the_rest() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder.flush, max_size=4, max_wait=0.01)
    await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    assert recorder.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


async def test_a_failed_batch_does_not_poison_the_next_one() -> None:
    recorder = Recorder(RuntimeError("once"))
    batcher = MicroBatcher(recorder.flush, max_size=10, max_wait=0.01)
    with pytest.raises(RuntimeError, match="once"):
        await batcher.submit(1)
    recorder.error = None
    await batcher.submit(2)
    assert recorder.batches == [[1], [2]]


class Tombstones:
    def __init__(self, deleted: set[str], error: Exception | None = None) -> None:
        self.deleted = deleted
        self.queries: list[list[str]] = []
        self.error = error

    async def query(self, items: list[str]) -> set[str]:
        self.queries.append(items)
        found = self.deleted & set(items)  # what the database holds when the query arrives
        await asyncio.sleep(0)
        if self.error is not None:
            raise self.error
        return found


async def test_concurrent_questions_share_one_query() -> None:
    tombstones = Tombstones({"gone"})
    lookup = BatchedLookup(tombstones.query)
    answers = await asyncio.gather(*(lookup.contains(p) for p in ["gone", "kept", "gone"]))
    assert answers == [True, False, True]
    assert tombstones.queries == [["gone", "kept"]]


async def test_a_question_asked_after_the_query_was_sent_gets_a_fresh_query() -> None:
    tombstones = Tombstones(set())
    lookup = BatchedLookup(tombstones.query)
    first = asyncio.create_task(lookup.contains("p1"))
    while not tombstones.queries:  # until the first query is on its way
        await asyncio.sleep(0)
    tombstones.deleted.add("p1")
    assert await lookup.contains("p1") is True
    assert await first is False
    assert tombstones.queries == [["p1"], ["p1"]]


async def test_a_failed_query_fails_every_question_in_it() -> None:
    lookup = BatchedLookup(Tombstones(set(), RuntimeError("mongo away")).query)
    answers = await asyncio.gather(
        lookup.contains("a"), lookup.contains("b"), return_exceptions=True
    )
    assert [str(answer) for answer in answers] == ["mongo away", "mongo away"]
