"""build_app for tracking: health routes, and the one table of what it consumes and answers."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from libs.messaging.batching import MicroBatcher
from libs.messaging.bus import DeadLetterStore, EventBus
from libs.messaging.topology import TRACKING, Topology
from libs.runtime.edge import Edge, answer, consume, mount_edge
from libs.settings import Settings
from libs.storage.objects import FileRecord
from libs.storage.records import RecordStore
from libs.storage.storage_client import StorageClient
from libs.web.server import add_health_routes, problem_middleware
from services.tracking.deadletters import DeadLetters
from services.tracking.handlers import TrackingHandlers
from services.tracking.service import TrackingService


@dataclass(frozen=True)
class TrackingDeps:
    bus: EventBus
    records: RecordStore
    topology: Topology
    dead_letters: DeadLetterStore


def edge(handlers: TrackingHandlers, topology: Topology, batch: int) -> Edge:
    return Edge(
        TRACKING,
        consume(topology.object_created, handler=handlers.on_object_created, batch=batch),
        consume(topology.object_deleted, handler=handlers.on_object_deleted, batch=batch),
        # A cleanup must finish: transient failures are retried for as long as it takes.
        consume(topology.cleanup, handler=handlers.on_cleanup, batch=1, give_up=False),
        answer(topology.cleanup_rpc, handlers.cleanup_command),
        answer(topology.reconcile_rpc, handlers.reconcile_command),
        answer(topology.usage_rpc, handlers.usage),
        answer(topology.records_rpc, handlers.records),
        answer(topology.tracking_ping, handlers.ping),
        answer(topology.deadletters_rpc, handlers.dead_letters_command),
    )  # fmt: skip


def build_app(settings: Settings, deps: TrackingDeps) -> web.Application:
    storage = StorageClient(deps.bus, deps.topology)
    service = TrackingService(deps.records, storage, settings.reconcile_grace_seconds)
    batch = settings.tracking_batch_size
    handlers = TrackingHandlers(
        service,
        MicroBatcher[FileRecord](service.record_batch, batch),
        MicroBatcher[tuple[str, str]](service.forget_batch, batch),
        DeadLetters(deps.dead_letters, deps.topology),
    )
    app = web.Application(middlewares=[problem_middleware()])
    checks = {"nats": deps.bus.ping, "mongodb": deps.records.ping}
    add_health_routes(app, checks, settings.telemetry)
    mount_edge(app, deps.bus, deps.topology, edge(handlers, deps.topology, batch))
    return app
