"""build_app for storage: health routes plus the push consumer and the request-reply answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from libs.messaging.bus import EventBus
from libs.messaging.topology import Topology
from libs.runtime.wiring import background
from libs.settings import Settings
from libs.storage.objectstore import ObjectStore
from libs.web.server import add_health_routes, problem_middleware
from services.storage.handlers import StorageHandlers
from services.storage.service import StorageService

PUSH_CONSUMER = "storage-push"


@dataclass(frozen=True)
class StorageDeps:
    bus: EventBus
    store: ObjectStore
    topology: Topology


def build_app(settings: Settings, deps: StorageDeps) -> web.Application:
    service = StorageService(
        deps.store, deps.bus, deps.topology, settings.work_dir, settings.presign_ttl_seconds
    )
    handlers = StorageHandlers(service, deps.bus, deps.topology)
    app = web.Application(middlewares=[problem_middleware])
    add_health_routes(app, {"nats": deps.bus.ping, "object_store": deps.store.ping})

    async def answer_requests(_app: web.Application) -> AsyncIterator[None]:
        for subject, responder in handlers.responders().items():
            await deps.bus.serve(subject, responder)
        yield

    async def consume_pushes() -> None:
        spec = deps.topology.consumer(PUSH_CONSUMER, deps.topology.push, batch=4)
        await deps.bus.run_consumer(spec, handlers.on_push, handlers.on_push_dead)

    app.cleanup_ctx.append(answer_requests)
    app.cleanup_ctx.append(background(consume_pushes))
    return app
