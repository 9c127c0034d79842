"""build_app for tracking: health, the object-event and cleanup consumers, admin requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from libs.messaging.batching import MicroBatcher
from libs.messaging.bus import EventBus
from libs.messaging.topology import Topology
from libs.runtime.wiring import Job, background
from libs.settings import Settings
from libs.storage.records import FileRecord, RecordStore
from libs.storage.storage_client import StorageClient
from libs.web.server import add_health_routes, problem_middleware
from services.tracking.handlers import TrackingHandlers
from services.tracking.service import TrackingService

CREATED_CONSUMER = "tracking-created"
DELETED_CONSUMER = "tracking-deleted"
CLEANUP_CONSUMER = "tracking-cleanup"


@dataclass(frozen=True)
class TrackingDeps:
    bus: EventBus
    records: RecordStore
    topology: Topology


def build_app(settings: Settings, deps: TrackingDeps) -> web.Application:
    storage = StorageClient(deps.bus, deps.topology)
    service = TrackingService(deps.records, storage, settings.reconcile_grace_seconds)
    batch = settings.tracking_batch_size
    handlers = TrackingHandlers(
        service,
        MicroBatcher[FileRecord](service.record_batch, batch),
        MicroBatcher[tuple[str, str]](service.forget_batch, batch),
    )
    app = web.Application(middlewares=[problem_middleware])
    add_health_routes(app, {"nats": deps.bus.ping, "mongodb": deps.records.ping})

    async def answer_requests(_app: web.Application) -> AsyncIterator[None]:
        topology = deps.topology
        subjects = handlers.responders(topology.cleanup_rpc, topology.reconcile_rpc)
        for subject, responder in subjects.items():
            await deps.bus.serve(subject, responder)
        yield

    app.cleanup_ctx.append(answer_requests)
    app.cleanup_ctx.append(background(*_consumers(settings, deps, handlers)))
    return app


def _consumers(settings: Settings, deps: TrackingDeps, handlers: TrackingHandlers) -> list[Job]:
    topology, bus, batch = deps.topology, deps.bus, settings.tracking_batch_size

    async def created() -> None:
        spec = topology.consumer(CREATED_CONSUMER, topology.object_created, batch)
        await bus.run_consumer(spec, handlers.on_object_created)

    async def deleted() -> None:
        spec = topology.consumer(DELETED_CONSUMER, topology.object_deleted, batch)
        await bus.run_consumer(spec, handlers.on_object_deleted)

    async def cleanups() -> None:
        spec = topology.consumer(CLEANUP_CONSUMER, topology.cleanup, batch=1, give_up=False)
        await bus.run_consumer(spec, handlers.on_cleanup)

    return [created, deleted, cleanups]
