"""The event bus boundary: the Protocol, the delivery policy, and an in-memory fake.

Delivery policy (shared by the NATS adapter and the fake, `decide` below): a handler that
returns is acked; one that raises PermanentError is dead-lettered at once; any other exception
is retried with capped exponential backoff and dead-lettered after `max_tries` deliveries.
Nothing is dropped.

The fake keeps that policy and the order of messages, but not JetStream's timing: it retries
at once (no ack wait, no redelivery after a crash), has no streams (every subject is kept),
dedups message ids forever, and runs responders in the caller's task. Timing and crashes are
tested against the real server (tests/contract/test_event_bus.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from opentelemetry.trace import SpanKind

from libs.errors import PermanentError, TransientError
from libs.messaging.topology import ConsumerSpec, StreamSpec, Topology
from libs.observability.metrics import HANDLER_SECONDS, MESSAGES
from libs.observability.tracing import handling, trace_headers


@dataclass(frozen=True)
class Delivery:
    subject: str
    data: bytes
    num_delivered: int
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryPolicy:
    max_tries: int = 8
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def delay(self, num_delivered: int) -> float:
        return float(min(self.cap_seconds, self.base_seconds * 2 ** max(0, num_delivered - 1)))

    def exhausted(self, num_delivered: int) -> bool:
        return num_delivered >= self.max_tries

    def for_consumer(self, spec: ConsumerSpec) -> RetryPolicy:
        return self if spec.give_up else replace(self, max_tries=sys.maxsize)


Handler = Callable[[Delivery], Awaitable[None]]
OnDead = Callable[[Delivery, str], Awaitable[None]]
Responder = Callable[[bytes], Awaitable[bytes]]
Unsubscribe = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Subscriber:
    """One consumer's handler, its retry policy and who hears of its dead letters."""

    handler: Handler
    policy: RetryPolicy
    on_dead: OnDead | None = None
    consumer: str = ""  # the durable name: the label of its metrics


@dataclass(frozen=True)
class Backlog:
    """A durable consumer's state as JetStream reports it."""

    pending: int
    ack_pending: int
    redelivered: int


@dataclass(frozen=True)
class DeadLetter:
    subject: str
    data: bytes
    reason: str


@dataclass(frozen=True)
class Letter:
    """A message in the dead-letter stream: `seq` there, its dead-letter subject, its payload,
    and its headers (the original's, plus why and where from)."""

    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]
    time: datetime | None = None


class DeadLetterStore(Protocol):
    async def page(self, after: int, limit: int) -> list[Letter]: ...

    async def get(self, seq: int) -> Letter | None: ...

    async def remove(self, seq: int) -> bool: ...

    async def purge(self) -> int: ...

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> None: ...


class EventBus(Protocol):
    async def ensure_streams(self, streams: tuple[StreamSpec, ...], replicas: int = 1) -> None: ...

    async def publish(self, subject: str, payload: bytes, *, msg_id: str) -> None: ...

    async def run_consumer(
        self, spec: ConsumerSpec, handler: Handler, on_dead: OnDead | None = None
    ) -> None:
        """Deliver messages to `handler` until cancelled; `on_dead` hears of dead letters.
        A cancel first lets the messages in hand settle, for a bounded time (a drain)."""

    async def request(
        self,
        subject: str,
        payload: bytes,
        *,
        timeout: float,  # noqa: ASYNC109 - a NATS request takes a deadline
    ) -> bytes:
        """Ask one responder on `subject`; `timeout` is the request's own deadline."""

    async def serve(self, subject: str, responder: Responder) -> Unsubscribe:
        """Answer requests on `subject` (as one of a queue group) until unsubscribed."""

    async def ping(self) -> None: ...

    async def backlog(self, spec: ConsumerSpec) -> Backlog: ...

    async def stream_depth(self, stream: str) -> int: ...


class Outcome:
    """What the delivery policy decided for one message."""

    ACK = "ack"
    RETRY = "retry"
    DEAD = "dead"


async def decide(handler: Handler, delivery: Delivery, policy: RetryPolicy) -> tuple[str, str]:
    """Run the handler and return (outcome, reason)."""
    try:
        await handler(delivery)
    except PermanentError as exc:
        return Outcome.DEAD, str(exc)
    except Exception as exc:  # transient or unforeseen: retry, then dead-letter
        reason = f"{type(exc).__name__}: {exc}"
        if policy.exhausted(delivery.num_delivered):
            return Outcome.DEAD, f"gave up after {delivery.num_delivered} tries: {reason}"
        return Outcome.RETRY, reason
    return Outcome.ACK, ""


@contextlib.asynccontextmanager
async def handling_delivery(delivery: Delivery, subscriber: Subscriber) -> AsyncIterator[None]:
    """The span of one delivery (child of the trace its headers carry), logs bound to it."""
    with handling(delivery.headers, f"consume {subscriber.consumer}", SpanKind.CONSUMER):
        yield


async def decide_counted(subscriber: Subscriber, delivery: Delivery) -> tuple[str, str]:
    """`decide`, with the handler's seconds and the outcome counted for the consumer."""
    started = time.perf_counter()
    outcome, reason = await decide(subscriber.handler, delivery, subscriber.policy)
    HANDLER_SECONDS.labels(subscriber.consumer).observe(time.perf_counter() - started)
    MESSAGES.labels(subscriber.consumer, outcome).inc()
    return outcome, reason


class InMemoryBus:
    """A small fake of the JetStream bus for unit tests of service logic (see the module doc
    for what it does not imitate)."""

    def __init__(self, topology: Topology, policy: RetryPolicy | None = None) -> None:
        self.topology = topology
        self.policy = policy or RetryPolicy(base_seconds=0.0)
        self.dead_letters: list[DeadLetter] = []
        self._log: list[tuple[str, bytes, dict[str, str]]] = []
        self._seen_ids: set[str] = set()
        self._responders: dict[str, Responder] = {}
        self._new_message = asyncio.Condition()

    async def ensure_streams(self, streams: tuple[StreamSpec, ...], replicas: int = 1) -> None:
        return None

    async def publish(self, subject: str, payload: bytes, *, msg_id: str) -> None:
        if msg_id in self._seen_ids:
            return
        self._seen_ids.add(msg_id)
        self._log.append((subject, payload, trace_headers()))
        async with self._new_message:
            self._new_message.notify_all()

    async def run_consumer(
        self, spec: ConsumerSpec, handler: Handler, on_dead: OnDead | None = None
    ) -> None:
        position = 0
        while True:
            await self._wait_for_message_at(position)
            subject, data, headers = self._log[position]
            position += 1
            if subject.startswith(spec.subject.removesuffix(">")):
                policy = self.policy.for_consumer(spec)
                subscriber = Subscriber(handler, policy, on_dead, spec.durable)
                await self._deliver(Delivery(subject, data, 0, headers), subscriber)

    async def _wait_for_message_at(self, position: int) -> None:
        """Wait until the log holds a message at `position`."""
        async with self._new_message:
            while position >= len(self._log):
                await self._new_message.wait()

    async def _deliver(self, message: Delivery, subscriber: Subscriber) -> None:
        tries = 0
        while True:
            tries += 1
            delivery = replace(message, num_delivered=tries)
            async with handling_delivery(delivery, subscriber):
                outcome, reason = await decide_counted(subscriber, delivery)
            if outcome == Outcome.RETRY:
                await asyncio.sleep(subscriber.policy.delay(tries))
                continue
            if outcome == Outcome.DEAD:
                self.dead_letters.append(DeadLetter(message.subject, message.data, reason))
                if subscriber.on_dead:
                    await subscriber.on_dead(delivery, reason)
            return

    async def request(
        self,
        subject: str,
        payload: bytes,
        *,
        timeout: float,  # noqa: ASYNC109 - a NATS request takes a deadline
    ) -> bytes:
        responder = self._responders.get(subject)
        if responder is None:
            raise TransientError(f"no responder for {subject}")
        return await asyncio.wait_for(responder(payload), timeout)

    async def serve(self, subject: str, responder: Responder) -> Unsubscribe:
        self._responders[subject] = responder

        async def unsubscribe() -> None:
            self._responders.pop(subject, None)

        return unsubscribe

    async def ping(self) -> None:
        return None

    async def backlog(self, spec: ConsumerSpec) -> Backlog:
        return Backlog(0, 0, 0)  # the fake delivers as it publishes: nothing ever waits

    async def stream_depth(self, stream: str) -> int:
        if stream == self.topology.dead_letter_stream:
            return len(self.dead_letters)
        return len(self._log)
