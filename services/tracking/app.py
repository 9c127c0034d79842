"""build_app for tracking: health routes plus the object-created consumer."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from libs.batching import MicroBatcher
from libs.bus import EventBus
from libs.records import FileRecord, RecordStore
from libs.runtime import background
from libs.settings import Settings
from libs.topology import Topology
from libs.web import add_health_routes, problem_middleware
from services.tracking.handlers import TrackingHandlers
from services.tracking.service import TrackingService

CREATED_CONSUMER = "tracking-created"


@dataclass(frozen=True)
class TrackingDeps:
    bus: EventBus
    records: RecordStore
    topology: Topology


def build_app(settings: Settings, deps: TrackingDeps) -> web.Application:
    service = TrackingService(deps.records)
    batch = settings.tracking_batch_size
    handlers = TrackingHandlers(MicroBatcher[FileRecord](service.record_batch, batch))
    app = web.Application(middlewares=[problem_middleware])
    add_health_routes(app, {"nats": deps.bus.ping, "mongodb": deps.records.ping})

    async def consume_created() -> None:
        spec = deps.topology.consumer(CREATED_CONSUMER, deps.topology.object_created, batch)
        await deps.bus.run_consumer(spec, handlers.on_object_created)

    app.cleanup_ctx.append(background(consume_created))
    return app
