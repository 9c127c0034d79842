"""The real event bus: NATS JetStream with file-backed streams and durable pull consumers."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NoStreamResponseError
from opentelemetry.trace import SpanKind

from libs.errors import CliptrailError, TransientError
from libs.messaging.bus import (
    Backlog,
    Delivery,
    Handler,
    OnDead,
    Outcome,
    Responder,
    RetryPolicy,
    Subscriber,
    Unsubscribe,
    decide_counted,
    handling_delivery,
)
from libs.messaging.permissions import inbox_prefix
from libs.messaging.topology import ConsumerSpec, Topology
from libs.observability.tracing import handling, trace_headers

log = structlog.get_logger(__name__)
CLOSE_TIMEOUT_SECONDS = 5.0
DRAIN_SECONDS = 10.0
NO_RESPONDER_SECONDS = 3.0  # a request with nobody to answer it is retried this long
NO_RESPONDER_FIRST_WAIT = 0.05
NO_STREAM_SECONDS = 10.0  # a publish nobody answers (a stream electing its leader) is retried


@dataclass(frozen=True)
class BusTuning:
    """Settings of the bus (not of one process): how long a message may stay unsettled before
    redelivery, and how many messages a consumer hands out unsettled across all replicas."""

    ack_wait: float = 60.0
    max_ack_pending: int = 1000


class NatsBus:
    def __init__(
        self, client: Client, topology: Topology, policy: RetryPolicy, tuning: BusTuning
    ) -> None:
        self._nc = client
        self._js = client.jetstream()
        self.topology = topology
        self.policy = policy
        self.tuning = tuning
        self.ack_wait = tuning.ack_wait
        self._answering: set[asyncio.Task[None]] = set()

    @property
    def jetstream(self) -> JetStreamContext:
        return self._js

    async def publish(self, subject: str, payload: bytes, *, msg_id: str) -> None:
        """A durable publish. While a stream elects a leader or a restarted server's JetStream
        catches up, nobody answers for a while: that is retried briefly (the message id makes a
        repeat harmless), anything else fails at once."""
        headers = {"Nats-Msg-Id": msg_id, **trace_headers()}
        wait = NO_RESPONDER_FIRST_WAIT
        give_up = asyncio.get_running_loop().time() + NO_STREAM_SECONDS
        while True:
            try:
                await self._js.publish(subject, payload, headers=headers, timeout=5)
                return
            except (NoStreamResponseError, NoRespondersError) as exc:
                if asyncio.get_running_loop().time() + wait > give_up:
                    raise TransientError(f"no stream answers on {subject}: {exc!r}") from exc
                await asyncio.sleep(wait)
                wait = min(2 * wait, 1.0)
            except (NatsError, TimeoutError) as exc:
                raise TransientError(f"publish to {subject} failed: {exc!r}") from exc

    async def run_consumer(
        self, spec: ConsumerSpec, handler: Handler, on_dead: OnDead | None = None
    ) -> None:
        config = ConsumerConfig(
            durable_name=spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=-1,  # our own policy dead-letters; the server must never drop
            max_ack_pending=spec.max_ack_pending or self.tuning.max_ack_pending,
        )
        sub = await self._js.pull_subscribe(
            spec.subject, durable=spec.durable, stream=spec.stream, config=config
        )
        subscriber = Subscriber(handler, self.policy.for_consumer(spec), on_dead, spec.durable)
        async for messages in self._batches(sub, spec.batch):
            await _drained(asyncio.gather(*(self._dispatch(m, subscriber) for m in messages)))

    async def _batches(
        self, sub: JetStreamContext.PullSubscription, size: int
    ) -> AsyncIterator[list[Msg]]:
        while True:
            try:
                yield await sub.fetch(size, timeout=1.0)
            except TimeoutError:
                _reraise_swallowed_cancel()
                continue
            except NatsError as exc:
                log.warning("fetch_failed", error=repr(exc))
                await asyncio.sleep(1.0)

    async def _dispatch(self, msg: Msg, subscriber: Subscriber) -> None:
        delivery = Delivery(
            msg.subject, msg.data, msg.metadata.num_delivered, dict(msg.headers or {})
        )
        with structlog.contextvars.bound_contextvars(
            event_id=delivery.headers.get("Nats-Msg-Id"), subject=msg.subject
        ):
            async with handling_delivery(delivery, subscriber):
                await self._handle(msg, delivery, subscriber)

    async def _handle(self, msg: Msg, delivery: Delivery, subscriber: Subscriber) -> None:
        async with self._keep_alive(msg):
            outcome, reason = await decide_counted(subscriber, delivery)
        try:
            await self._settle(msg, delivery, outcome, reason, subscriber)
        except (NatsError, TimeoutError, CliptrailError) as exc:
            log.warning("settle_failed_redelivery_follows", error=repr(exc))

    async def _settle(
        self, msg: Msg, delivery: Delivery, outcome: str, reason: str, subscriber: Subscriber
    ) -> None:
        if outcome == Outcome.ACK:
            await msg.ack_sync()
        elif outcome == Outcome.RETRY:
            delay = subscriber.policy.delay(delivery.num_delivered)
            log.warning("retrying", reason=reason, tries=delivery.num_delivered, delay=delay)
            await msg.nak(delay=delay)
        else:
            await self._dead_letter(msg, reason)
            if subscriber.on_dead:
                await subscriber.on_dead(delivery, reason)
            await msg.term()

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        seq = msg.metadata.sequence.stream
        original = dict(msg.headers or {})  # kept, so that a replay carries them (traceparent)
        headers = {
            **original,
            "Nats-Msg-Id": f"dead:{msg.metadata.stream}:{seq}",
            "Cliptrail-Original-Msg-Id": original.get("Nats-Msg-Id", ""),
            "Cliptrail-Error": reason[:1000],
            "Cliptrail-Original-Subject": msg.subject,
            **trace_headers(),
        }
        await self._js.publish(
            self.topology.dead_letter(msg.subject), msg.data, headers=headers, timeout=5
        )
        log.error("dead_lettered", reason=reason)

    @contextlib.asynccontextmanager
    async def _keep_alive(self, msg: Msg) -> AsyncIterator[None]:
        """Tell the server a long handler is still working, so it does not redeliver."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.ack_wait / 3)
                with contextlib.suppress(NatsError):
                    await msg.in_progress()

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()

    async def request(
        self,
        subject: str,
        payload: bytes,
        *,
        timeout: float,  # noqa: ASYNC109 - a NATS request takes a deadline
    ) -> bytes:
        wait = NO_RESPONDER_FIRST_WAIT
        give_up = asyncio.get_running_loop().time() + min(timeout, NO_RESPONDER_SECONDS)
        while True:
            try:
                headers = trace_headers() or None
                reply = await self._nc.request(subject, payload, timeout=timeout, headers=headers)
                return reply.data
            except NoRespondersError as exc:
                # A responder that is starting or restarting is usually there a moment later.
                if asyncio.get_running_loop().time() + wait > give_up:
                    raise TransientError(f"nobody answers on {subject}") from exc
                await asyncio.sleep(wait)
                wait = min(2 * wait, 0.5)
            except (NatsError, TimeoutError) as exc:
                raise TransientError(f"request to {subject} failed: {exc!r}") from exc

    async def serve(self, subject: str, responder: Responder) -> Unsubscribe:
        async def respond(msg: Msg) -> None:
            with (
                handling(msg.headers or {}, f"answer {subject}", SpanKind.SERVER),
                contextlib.suppress(NatsError),
            ):
                await msg.respond(await responder(msg.data))

        async def answer(msg: Msg) -> None:
            # nats-py awaits callbacks one at a time; a task each lets slow answers overlap.
            task = asyncio.create_task(respond(msg))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

        subscription = await self._nc.subscribe(subject, queue="cliptrail", cb=answer)

        async def unsubscribe() -> None:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()

        return unsubscribe

    async def backlog(self, spec: ConsumerSpec) -> Backlog:
        info = await self._js.consumer_info(spec.stream, spec.durable)
        return Backlog(info.num_pending or 0, info.num_ack_pending or 0, info.num_redelivered or 0)

    async def stream_depth(self, stream: str) -> int:
        return (await self._js.stream_info(stream)).state.messages

    async def ping(self) -> None:
        if not self._nc.is_connected:
            raise TransientError("NATS is not connected")
        try:
            await self._nc.flush(timeout=2)
        except (NatsError, TimeoutError) as exc:
            raise TransientError(f"NATS did not answer: {exc!r}") from exc


async def _drained(batch: asyncio.Future[list[None]]) -> None:
    """Await a batch; if cancelled meanwhile, give it DRAIN_SECONDS to settle, then stop it
    (an unsettled message is redelivered after its ack wait: delayed, never lost)."""
    try:
        await asyncio.shield(batch)
    except asyncio.CancelledError:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(batch, DRAIN_SECONDS)
        raise


def _reraise_swallowed_cancel() -> None:
    """Python 3.11's wait_for can turn a cancel into a timeout; a cancelled loop must stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@dataclass(frozen=True)
class NatsIdentity:
    """Who connects: `name` picks the inbox prefix its permissions allow (`_INBOX.<name>.>`);
    the seed or creds file proves it; the TLS files when the server wants TLS."""

    name: str
    seed_file: Path | None = None
    creds_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    def connect_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"name": self.name, "inbox_prefix": inbox_prefix(self.name)}
        if self.seed_file:
            options["nkeys_seed"] = str(self.seed_file)
        if self.creds_file:
            options["user_credentials"] = str(self.creds_file)
        if self.tls_ca_file or self.tls_cert_file:
            options["tls"] = self._tls()
        return options

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        if self.tls_cert_file:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        return context


@contextlib.asynccontextmanager
async def connect_bus(
    servers: list[str],
    identity: NatsIdentity,
    topology: Topology,
    policy: RetryPolicy,
    tuning: BusTuning = BusTuning(),
) -> AsyncIterator[NatsBus]:
    try:
        client = await nats.connect(
            servers,
            connect_timeout=3,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            **identity.connect_options(),
        )
    except (NatsError, OSError, TimeoutError) as exc:
        raise TransientError(f"cannot reach NATS at {','.join(servers)}: {exc!r}") from exc
    try:
        yield NatsBus(client, topology, policy, tuning)
    finally:
        # Bounded: with the server gone, closing must not keep a stopping service alive.
        with contextlib.suppress(TimeoutError, NatsError):
            await asyncio.wait_for(client.close(), CLOSE_TIMEOUT_SECONDS)
