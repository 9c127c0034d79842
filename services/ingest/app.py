"""build_app for ingest: the HTTP API, health, and the status consumers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from libs.messaging.bus import EventBus
from libs.messaging.topology import Topology
from libs.runtime.wiring import Job, background
from libs.settings import Settings
from libs.storage.fetch import ObjectFetcher
from libs.storage.records import RecordStore
from libs.storage.storage_client import StorageClient
from libs.storage.tracking_client import TrackingClient
from libs.web.server import add_health_routes, problem_middleware
from services.ingest.catalog import Catalog
from services.ingest.catalog_sync import CatalogUnits, LocalUnits, SyncedUnits
from services.ingest.clips import ManifestReader
from services.ingest.debug import DebugHandlers
from services.ingest.handlers import (
    IngestEvents,
    IngestHandlers,
    auth_middleware,
    check_storage,
)
from services.ingest.openapi import openapi_document
from services.ingest.service import IngestService

CREATED_CONSUMER = "ingest-created"
PUSH_FAILED_CONSUMER = "ingest-push-failed"
RENDER_STATUS_CONSUMER = "ingest-render-status"


@dataclass(frozen=True)
class IngestDeps:
    bus: EventBus
    records: RecordStore
    topology: Topology


def build_app(settings: Settings, deps: IngestDeps) -> web.Application:
    fetcher = ObjectFetcher(StorageClient(deps.bus, deps.topology, timeout=30.0))
    catalog = Catalog(_units(settings, fetcher))
    service = IngestService(
        catalog, deps.bus, deps.topology, deps.records, settings.user_quota_bytes
    )
    manifests = ManifestReader(fetcher)
    handlers = IngestHandlers(
        service, settings.work_dir, settings.max_upload_bytes, manifests, settings.media_limits
    )
    secret = settings.auth_jwt_secret.get_secret_value()
    app = web.Application(middlewares=[problem_middleware, auth_middleware(secret)])
    checks = {
        "nats": deps.bus.ping,
        "object_store": lambda: check_storage(service),
        "mongodb": deps.records.ping,
    }
    add_health_routes(app, checks)

    async def open_fetcher(_app: web.Application) -> AsyncIterator[None]:
        async with fetcher.open():
            yield

    app.cleanup_ctx.append(open_fetcher)
    _add_api_routes(app, handlers)
    _add_debug_routes(app, DebugHandlers(deps.records, TrackingClient(deps.bus, deps.topology)))
    app.cleanup_ctx.append(background(*_consumers(deps, IngestEvents(service, settings.work_dir))))
    return app


def _units(settings: Settings, fetcher: ObjectFetcher) -> CatalogUnits:
    if not settings.catalog_sync:
        return LocalUnits(settings.cache_dir)
    return SyncedUnits(settings.cache_dir, settings.work_dir, fetcher)


def _add_api_routes(app: web.Application, handlers: IngestHandlers) -> None:
    document = openapi_document()

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_post("/api/v1/projects", handlers.create_project)
    app.router.add_get("/api/v1/projects", handlers.list_projects)
    app.router.add_get("/api/v1/projects/{project_id}", handlers.get_project)
    app.router.add_delete("/api/v1/projects/{project_id}", handlers.delete_project)
    app.router.add_post("/api/v1/projects/{project_id}/videos", handlers.upload_video)
    app.router.add_get("/api/v1/projects/{project_id}/videos/{video_id}", handlers.get_video)
    app.router.add_get("/api/v1/projects/{project_id}/videos/{video_id}/clips", handlers.list_clips)


def _add_debug_routes(app: web.Application, debug: DebugHandlers) -> None:
    app.router.add_get("/api/v1/debug/r2-file-paths/{project_id}", debug.file_paths)
    app.router.add_post("/api/v1/debug/cleanup-project/{project_id}", debug.cleanup_project)
    app.router.add_post("/api/v1/debug/reconcile", debug.reconcile)
    app.router.add_get("/api/v1/debug/storage-usage", debug.storage_usage)


def _consumers(deps: IngestDeps, events: IngestEvents) -> tuple[Job, ...]:
    topology = deps.topology

    async def status_from_created() -> None:
        spec = topology.consumer(CREATED_CONSUMER, topology.object_created)
        await deps.bus.run_consumer(spec, events.on_object_created)

    async def status_from_failures() -> None:
        spec = topology.consumer(PUSH_FAILED_CONSUMER, topology.push_failed)
        await deps.bus.run_consumer(spec, events.on_push_failed)

    async def status_from_render() -> None:
        # One at a time: "rendering" must never overtake the "ready" that follows it.
        spec = topology.consumer(RENDER_STATUS_CONSUMER, topology.render_status, batch=1)
        await deps.bus.run_consumer(spec, events.on_render_status)

    return status_from_created, status_from_failures, status_from_render
