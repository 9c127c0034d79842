"""A service's message edge as one table, mounted into its aiohttp app the same way for all four.

    edge_table = Edge(
        STORAGE,
        consume(topology.push, handler=h.on_push, on_dead=h.on_push_dead),
        answer(topology.presign, h.presign),
    )
    mount_edge(app, bus, topology, edge_table)

Reading a service's table tells everything it listens to and answers. `mount_edge` starts the
answers and the consumers when the app starts, and on shutdown stops answering first, then
drains the consumers (messages in hand settle, for a bounded time) and cancels them. Durable
consumer names come from the route map (libs/messaging/topology.py), which NATS permissions are
generated from.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel

from libs.messaging.bus import EventBus, Handler, OnDead, Unsubscribe
from libs.messaging.rpc import responder
from libs.messaging.topology import Topology
from libs.observability import metrics as m
from libs.observability.http import SAMPLERS, Sampler

log = structlog.get_logger(__name__)
RESTART_AFTER_SECONDS = 1.0


@dataclass(frozen=True)
class Consume:
    """A durable JetStream consumer of `subject` (its durable name is on the route map)."""

    subject: str
    handler: Handler
    on_dead: OnDead | None = None
    batch: int = 16
    give_up: bool = True  # False: retry transient failures for as long as it takes


@dataclass(frozen=True)
class Answer:
    """A request-reply responder on `subject` (one of a queue group); its types come from the
    route map."""

    subject: str
    handler: Callable[[Any], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Every:
    """A job run every `seconds` while the service runs (each replica runs its own; the job
    must be safe to run on several replicas at once)."""

    seconds: float
    job: Callable[[], Awaitable[None]]


def consume(
    subject: str,
    *,
    handler: Handler,
    on_dead: OnDead | None = None,
    batch: int = 16,
    give_up: bool = True,
) -> Consume:
    return Consume(subject, handler, on_dead, batch, give_up)


def answer(subject: str, handler: Callable[[Any], Awaitable[BaseModel]]) -> Answer:
    return Answer(subject, handler)


def every(seconds: float, job: Callable[[], Awaitable[None]]) -> Every:
    return Every(seconds, job)


class Edge:
    """What one service consumes and answers."""

    def __init__(self, service: str, *entries: Consume | Answer | Every) -> None:
        self.service = service
        self.consumes = tuple(e for e in entries if isinstance(e, Consume))
        self.answers = tuple(e for e in entries if isinstance(e, Answer))
        self.periodic = tuple(e for e in entries if isinstance(e, Every))

    @property
    def subjects(self) -> set[str]:
        return {c.subject for c in self.consumes} | {a.subject for a in self.answers}


def mount_edge(app: web.Application, bus: EventBus, topology: Topology, edge: Edge) -> None:
    async def context(_app: web.Application) -> AsyncIterator[None]:
        stops = await serve_answers(bus, topology, edge)
        tasks = [
            asyncio.create_task(_kept_running(bus, topology, edge.service, c))
            for c in edge.consumes
        ]
        tasks += [asyncio.create_task(_repeated(entry)) for entry in edge.periodic]
        yield
        for stop in stops:
            await stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    app.cleanup_ctx.append(context)
    app.setdefault(SAMPLERS, []).append(backlog_sampler(bus, topology, edge))


def backlog_sampler(bus: EventBus, topology: Topology, edge: Edge) -> Sampler:
    """At scrape time: each consumer's backlog and the dead-letter stream's depth."""

    async def sample() -> None:
        for entry in edge.consumes:
            spec = topology.consumer_of(edge.service, entry.subject, entry.batch, entry.give_up)
            with contextlib.suppress(Exception):  # not created yet, or NATS away: keep the last
                backlog = await bus.backlog(spec)
                m.CONSUMER_PENDING.labels(spec.durable).set(backlog.pending)
                m.CONSUMER_ACK_PENDING.labels(spec.durable).set(backlog.ack_pending)
                m.CONSUMER_REDELIVERED.labels(spec.durable).set(backlog.redelivered)
        m.DEAD_LETTERS.set(await bus.stream_depth(topology.dead_letter_stream))

    return sample


async def serve_answers(bus: EventBus, topology: Topology, edge: Edge) -> list[Unsubscribe]:
    """Start every answer of the table (the consumers are `mount_edge`'s to run)."""
    return [await _serve(bus, topology, entry) for entry in edge.answers]


async def _serve(bus: EventBus, topology: Topology, entry: Answer) -> Unsubscribe:
    route = topology.route(entry.subject)
    if route.reply is None:
        raise TypeError(f"{route.name} is not a request-reply subject")
    return await bus.serve(entry.subject, responder(route.message, route.reply, entry.handler))


async def _kept_running(bus: EventBus, topology: Topology, service: str, entry: Consume) -> None:
    """Run a consumer for the app's lifetime, restarting it if it crashes (a bug, NATS gone)."""
    spec = topology.consumer_of(service, entry.subject, entry.batch, entry.give_up)
    while True:
        try:
            await bus.run_consumer(spec, entry.handler, entry.on_dead)
            return
        except Exception:
            log.exception("consumer_crashed", durable=spec.durable)
            await asyncio.sleep(RESTART_AFTER_SECONDS)


async def _repeated(entry: Every) -> None:
    """Run a periodic job until cancelled; a failed run is logged and the next one comes."""
    while True:
        await asyncio.sleep(entry.seconds)
        try:
            await entry.job()
        except Exception:
            log.exception("periodic_job_failed", job=getattr(entry.job, "__name__", "job"))
