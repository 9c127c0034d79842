"""build_app for storage: health routes, and the one table of what it consumes and answers."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from libs.messaging.bus import EventBus
from libs.messaging.topology import STORAGE, Topology
from libs.runtime.edge import Edge, answer, consume, mount_edge
from libs.settings import Settings
from libs.storage.objectstore import ObjectStore
from libs.web.server import add_health_routes, problem_middleware
from services.storage.handlers import StorageHandlers
from services.storage.service import StorageService


@dataclass(frozen=True)
class StorageDeps:
    bus: EventBus
    store: ObjectStore
    topology: Topology


def edge(handlers: StorageHandlers, topology: Topology) -> Edge:
    return Edge(
        STORAGE,
        consume(
            topology.push,
            handler=handlers.on_push,
            on_dead=handlers.on_push_dead,
            batch=4,
        ),
        answer(topology.push_rpc, handlers.push),
        answer(topology.presign, handlers.presign),
        answer(topology.storage_ping, handlers.ping),
        answer(topology.delete_rpc, handlers.delete),
        answer(topology.list_rpc, handlers.list_page),
        answer(topology.head_rpc, handlers.head),
    )


def build_app(settings: Settings, deps: StorageDeps) -> web.Application:
    service = StorageService(
        deps.store, deps.bus, deps.topology, settings.work_dir, settings.presign_ttl_seconds
    )
    handlers = StorageHandlers(service, deps.bus, deps.topology)
    app = web.Application(middlewares=[problem_middleware()])
    add_health_routes(app, {"nats": deps.bus.ping, "object_store": deps.store.ping})
    mount_edge(app, deps.bus, deps.topology, edge(handlers, deps.topology))
    return app
