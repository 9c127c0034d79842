"""One contract for the event bus: InMemoryBus and NatsBus (nats-server -js) alike.

Delivery policy: a handler that returns is acked; PermanentError is dead-lettered at once;
anything else is retried and dead-lettered after `max_tries` deliveries. Nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from libs.errors import PermanentError
from libs.messaging.bus import DeadLetter, Delivery, EventBus, Handler, InMemoryBus, OnDead
from libs.messaging.nats_bus import NatsBus
from libs.messaging.topology import ConsumerSpec, Topology
from libs.runtime.wiring import open_bus, retry_policy, topology_of
from libs.settings import Settings
from tests.support import connect_nats, eventually

SENTINEL = b"sentinel"


@pytest_asyncio.fixture
async def nats_bus(settings: Settings) -> AsyncIterator[NatsBus]:
    async with open_bus(settings, "test") as bus:
        yield bus


@pytest.fixture(params=["memory", "nats"])
def bus(request: pytest.FixtureRequest, settings: Settings) -> EventBus:
    if request.param == "memory":
        return InMemoryBus(topology_of(settings), retry_policy(settings))
    real: EventBus = request.getfixturevalue("nats_bus")
    return real


@pytest.fixture
def topology(settings: Settings) -> Topology:
    return topology_of(settings)


@pytest.fixture
def spec(topology: Topology) -> ConsumerSpec:
    return topology.consumer("contract", topology.object_created)


@contextlib.asynccontextmanager
async def consuming(
    bus: EventBus, spec: ConsumerSpec, handler: Handler, on_dead: OnDead | None = None
) -> AsyncIterator[None]:
    task = asyncio.create_task(bus.run_consumer(spec, handler, on_dead))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Recorder:
    """A handler that fails as told, and remembers every delivery and every dead letter."""

    def __init__(self, fail: Any = None) -> None:
        self.fail = fail
        self.deliveries: list[Delivery] = []
        self.dead: list[tuple[Delivery, str]] = []
        self.sentinel_seen = asyncio.Event()

    async def handle(self, delivery: Delivery) -> None:
        if delivery.data == SENTINEL:
            self.sentinel_seen.set()
            return
        self.deliveries.append(delivery)
        if self.fail is not None:
            self.fail(delivery)

    async def on_dead(self, delivery: Delivery, reason: str) -> None:
        self.dead.append((delivery, reason))

    def tries(self) -> list[int]:
        return [d.num_delivered for d in self.deliveries]


async def after_everything_before(bus: EventBus, topology: Topology, recorder: Recorder) -> None:
    """Publish a sentinel and wait for it: all earlier messages have had their first try."""
    await bus.publish(topology.object_created, SENTINEL, msg_id=uuid.uuid4().hex)
    await asyncio.wait_for(recorder.sentinel_seen.wait(), timeout=30)


async def dead_letters(bus: EventBus, settings: Settings) -> list[DeadLetter]:
    """The dead letters as (original subject, data, reason), from the fake or the stream."""
    if isinstance(bus, InMemoryBus):
        return list(bus.dead_letters)
    topology = topology_of(settings)
    client = await connect_nats(settings)
    try:
        js = client.jetstream()
        state = (await js.stream_info(topology.dead_letter_stream)).state
        found = []
        for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            msg = await js.get_msg(topology.dead_letter_stream, seq)
            original = msg.headers["Cliptrail-Original-Subject"]  # type: ignore[index]
            assert msg.subject == topology.dead_letter(original)
            found.append(DeadLetter(original, msg.data, msg.headers["Cliptrail-Error"]))  # type: ignore[index, arg-type]
        return found
    finally:
        await client.close()


async def nothing_left_unacked(bus: EventBus, spec: ConsumerSpec, settings: Settings) -> bool:
    if isinstance(bus, InMemoryBus):
        return True  # the fake settles each message before it takes the next
    client = await connect_nats(settings)
    try:
        info = await client.jetstream().consumer_info(spec.stream, spec.durable)
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)
    finally:
        await client.close()


async def test_the_same_msg_id_is_delivered_once(
    bus: EventBus, spec: ConsumerSpec, topology: Topology
) -> None:
    recorder = Recorder()
    await bus.publish(topology.object_created, b"event", msg_id="object-v1")
    await bus.publish(topology.object_created, b"event", msg_id="object-v1")
    await bus.publish(topology.object_created, b"other", msg_id="object-v2")
    async with consuming(bus, spec, recorder.handle):
        await after_everything_before(bus, topology, recorder)
    assert [d.data for d in recorder.deliveries] == [b"event", b"other"]
    assert recorder.tries() == [1, 1]


async def test_a_permanent_error_is_dead_lettered_at_once(
    bus: EventBus, spec: ConsumerSpec, topology: Topology, settings: Settings
) -> None:
    def reject(_: Delivery) -> None:
        raise PermanentError("malformed event")

    recorder = Recorder(fail=reject)
    await bus.publish(topology.object_created, b"bad", msg_id="bad-1")
    async with consuming(bus, spec, recorder.handle, recorder.on_dead):
        await eventually(lambda: _true(recorder.dead), timeout=20)
        recorder.fail = None
        await after_everything_before(bus, topology, recorder)
    [(delivery, reason)] = recorder.dead
    assert (delivery.data, delivery.num_delivered, reason) == (b"bad", 1, "malformed event")
    assert recorder.tries() == [1]
    expected = DeadLetter(topology.object_created, b"bad", "malformed event")
    assert await dead_letters(bus, settings) == [expected]


async def test_a_handler_failing_twice_is_acked_on_the_third_delivery(
    bus: EventBus, spec: ConsumerSpec, topology: Topology, settings: Settings
) -> None:
    def fail_twice(delivery: Delivery) -> None:
        if delivery.num_delivered < 3:
            raise RuntimeError(f"flaky #{delivery.num_delivered}")

    recorder = Recorder(fail=fail_twice)
    await bus.publish(topology.object_created, b"flaky", msg_id="flaky-1")
    async with consuming(bus, spec, recorder.handle, recorder.on_dead):
        await eventually(lambda: _true(len(recorder.deliveries) >= 3), timeout=30)
        await eventually(lambda: nothing_left_unacked(bus, spec, settings), timeout=10)
    assert recorder.tries() == [1, 2, 3]
    assert recorder.dead == []
    assert await dead_letters(bus, settings) == []


async def test_a_handler_that_always_fails_is_dead_lettered_after_max_tries(
    bus: EventBus, spec: ConsumerSpec, topology: Topology, settings: Settings
) -> None:
    def always(delivery: Delivery) -> None:
        raise RuntimeError("still broken")

    recorder = Recorder(fail=always)
    await bus.publish(topology.object_created, b"doomed", msg_id="doomed-1")
    async with consuming(bus, spec, recorder.handle, recorder.on_dead):
        await eventually(lambda: _true(recorder.dead), timeout=60)
        await eventually(lambda: nothing_left_unacked(bus, spec, settings), timeout=10)
    assert recorder.tries() == list(range(1, settings.max_tries + 1))
    reason = f"gave up after {settings.max_tries} tries: RuntimeError: still broken"
    assert [(d.num_delivered, r) for d, r in recorder.dead] == [(settings.max_tries, reason)]
    assert await dead_letters(bus, settings) == [
        DeadLetter(topology.object_created, b"doomed", reason)
    ]


async def test_messages_on_other_subjects_are_not_delivered(
    bus: EventBus, spec: ConsumerSpec, topology: Topology
) -> None:
    recorder = Recorder()
    await bus.publish(topology.object_deleted, b"deleted", msg_id="deleted-1")
    await bus.publish(topology.object_created, b"created", msg_id="created-1")
    async with consuming(bus, spec, recorder.handle):
        await after_everything_before(bus, topology, recorder)
    assert [d.data for d in recorder.deliveries] == [b"created"]


async def _true(value: object) -> bool:
    return bool(value)
