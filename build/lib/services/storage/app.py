"""build_app for storage: health routes, and the one table of what it consumes and answers."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from libs.messaging.bus import EventBus
from libs.messaging.topology import STORAGE, Topology
from libs.runtime.edge import Edge, answer, every, mount_edge
from libs.settings import Settings
from libs.storage.objectstore import ObjectStore
from libs.web.server import add_health_routes, problem_middleware
from services.storage.handlers import StorageHandlers
from services.storage.service import StorageService, Timing


@dataclass(frozen=True)
class StorageDeps:
    bus: EventBus
    store: ObjectStore
    topology: Topology


def edge(handlers: StorageHandlers, topology: Topology, sweep_seconds: float) -> Edge:
    return Edge(
        STORAGE,
        answer(topology.put_url, handlers.put_url),
        answer(topology.commit, handlers.commit),
        answer(topology.begin_upload, handlers.begin_upload),
        answer(topology.part_urls, handlers.part_urls),
        answer(topology.complete_upload, handlers.complete_upload),
        answer(topology.abort_upload, handlers.abort_upload),
        answer(topology.presign, handlers.presign),
        answer(topology.storage_ping, handlers.ping),
        answer(topology.delete_rpc, handlers.delete),
        answer(topology.list_rpc, handlers.list_page),
        answer(topology.head_rpc, handlers.head),
        every(sweep_seconds, handlers.sweep),
    )


def build_app(settings: Settings, deps: StorageDeps) -> web.Application:
    timing = Timing(
        settings.transfer_ttl_seconds,
        settings.presign_ttl_seconds,
        settings.multipart_abandoned_seconds,
    )
    handlers = StorageHandlers(StorageService(deps.store, deps.bus, deps.topology, timing))
    app = web.Application(middlewares=[problem_middleware()])
    checks = {"nats": deps.bus.ping, "object_store": deps.store.ping}
    add_health_routes(app, checks, settings.telemetry)
    table = edge(handlers, deps.topology, settings.multipart_sweep_seconds)
    mount_edge(app, deps.bus, deps.topology, table)
    return app
