"""build_app for ingest: the HTTP routes, health, and the one table of what it consumes."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from nats.js import JetStreamContext

from libs.media.probe import probe
from libs.messaging.bus import EventBus
from libs.messaging.leases import KvLeases, KvVersions
from libs.messaging.topology import CATALOG_LEASES, CATALOG_VERSIONS, INGEST, Topology
from libs.runtime.edge import Edge, consume, every, mount_edge
from libs.settings import Settings
from libs.storage.fetch import ObjectFetcher
from libs.storage.storage_client import StorageClient
from libs.storage.tracking_client import TrackingClient
from libs.storage.transfer import Tuning, Uploader
from libs.web.auth import Authenticator, token_rules
from libs.web.jwks import JwksKeys
from libs.web.limits import fair_use, fair_use_middleware
from libs.web.server import add_health_routes, problem_middleware
from services.ingest.catalog import Catalog
from services.ingest.catalog_sync import CatalogUnits, LocalUnits, Shared, SyncedUnits
from services.ingest.clips import ManifestReader
from services.ingest.debug import DebugHandlers
from services.ingest.docs import add_docs_routes
from services.ingest.handlers import IngestEvents, IngestHandlers, auth_middleware, to_problem
from services.ingest.openapi import openapi_document
from services.ingest.resumable import ResumableUploads, Timing
from services.ingest.service import IngestService
from services.ingest.tus import TusHandlers, tus_headers
from services.ingest.upload_states import KvUploadStates


@dataclass(frozen=True)
class IngestDeps:
    bus: EventBus
    topology: Topology
    jetstream: JetStreamContext  # the catalog's leases and versions (NATS KV)


def edge(events: IngestEvents, topology: Topology, sweep_seconds: float) -> Edge:
    return Edge(
        INGEST,
        # One at a time: "rendering" must never overtake the "ready" that follows it.
        consume(topology.render_status, handler=events.on_render_status, batch=1),
        every(sweep_seconds, events.sweep_expired_uploads),
    )  # fmt: skip


def build_app(settings: Settings, deps: IngestDeps) -> web.Application:
    storage = StorageClient(deps.bus, deps.topology, timeout=30.0)
    fetcher = ObjectFetcher(storage)
    uploader = Uploader(
        storage, Tuning(settings.multipart_part_bytes, settings.multipart_concurrency)
    )
    tracking = TrackingClient(deps.bus, deps.topology)
    service = IngestService(
        Catalog(_units(settings, deps, fetcher, uploader)),
        deps.bus,
        deps.topology,
        tracking,
        ManifestReader(fetcher),
        uploader,
        probe,
        settings.media_limits,
        settings.user_quota_bytes,
    )
    app = web.Application(
        middlewares=[
            tus_headers,
            problem_middleware(to_problem),
            auth_middleware(authenticator(settings)),
            fair_use_middleware(fair_use(settings), UPLOAD_ROUTES),
        ]
    )
    checks = {"nats": deps.bus.ping, "storage": fetcher.storage.ping, "tracking": tracking.ping}
    add_health_routes(app, checks, settings.telemetry)
    app.cleanup_ctx.append(fetcher.context)
    app.cleanup_ctx.append(uploader.context)
    handlers = IngestHandlers(service, settings.max_upload_bytes)
    resumable = ResumableUploads(
        service,
        KvUploadStates.of(deps.bus, deps.topology),
        fetcher,
        Timing(settings.tus_expiry_seconds, settings.tus_lease_seconds),
        settings.max_upload_bytes,
    )
    _add_api_routes(app, handlers, DebugHandlers(tracking))
    _add_tus_routes(app, TusHandlers(resumable))
    events = IngestEvents(service, resumable)
    sweep = settings.tus_sweep_seconds
    mount_edge(app, deps.bus, deps.topology, edge(events, deps.topology, sweep))
    return app


def authenticator(settings: Settings) -> Authenticator:
    url = settings.auth_jwks_url
    keys = JwksKeys(url, settings.auth_jwks_min_refresh_seconds) if url else None
    return Authenticator(token_rules(settings), keys)


def _units(
    settings: Settings, deps: IngestDeps, fetcher: ObjectFetcher, uploader: Uploader
) -> CatalogUnits:
    cache = settings.scratch_dir("ingest") / "cache"
    if not settings.catalog_sync:
        return LocalUnits(cache)
    return SyncedUnits(cache, fetcher, uploader, shared(settings, deps))


def shared(settings: Settings, deps: IngestDeps) -> Shared:
    ttl = settings.catalog_lease_seconds
    leases = deps.topology.key_value(CATALOG_LEASES)
    versions = deps.topology.key_value(CATALOG_VERSIONS)
    # A lapsed holder's lease is gone within `ttl`: waiting twice that outlasts a crash.
    return Shared(
        KvLeases(deps.jetstream, leases, ttl, wait=2 * ttl),
        KvVersions(deps.jetstream, versions),
    )


# Counted against CLIPTRAIL_MAX_CONCURRENT_UPLOADS (the routes below, as aiohttp names them).
TUS_UPLOAD = "/api/v1/projects/{project_id}/uploads/{upload_id}"
UPLOAD_ROUTES = frozenset({"/api/v1/projects/{project_id}/videos", TUS_UPLOAD})


def _add_tus_routes(app: web.Application, tus: TusHandlers) -> None:
    routes = app.router
    routes.add_route("OPTIONS", "/api/v1/projects/{project_id}/uploads", tus.options)
    routes.add_post("/api/v1/projects/{project_id}/uploads", tus.create)
    routes.add_route("HEAD", TUS_UPLOAD, tus.head)
    routes.add_patch(TUS_UPLOAD, tus.patch)
    routes.add_delete(TUS_UPLOAD, tus.delete)


def _add_api_routes(app: web.Application, api: IngestHandlers, debug: DebugHandlers) -> None:
    document = openapi_document()

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    routes = app.router
    routes.add_get("/api/v1/openapi.json", openapi)
    add_docs_routes(app)
    routes.add_post("/api/v1/projects", api.create_project)
    routes.add_get("/api/v1/projects", api.list_projects)
    routes.add_get("/api/v1/projects/{project_id}", api.get_project)
    routes.add_delete("/api/v1/projects/{project_id}", api.delete_project)
    routes.add_post("/api/v1/projects/{project_id}/videos", api.upload_video)
    routes.add_get("/api/v1/projects/{project_id}/videos/{video_id}", api.get_video)
    routes.add_get("/api/v1/projects/{project_id}/videos/{video_id}/clips", api.list_clips)
    routes.add_get("/api/v1/debug/r2-file-paths/{project_id}", debug.file_paths)
    routes.add_post("/api/v1/debug/cleanup-project/{project_id}", debug.cleanup_project)
    routes.add_post("/api/v1/debug/reconcile", debug.reconcile)
    routes.add_get("/api/v1/debug/storage-usage", debug.storage_usage)
    routes.add_get("/api/v1/debug/dead-letters", debug.dead_letters)
    routes.add_delete("/api/v1/debug/dead-letters", debug.dead_letters)
    routes.add_get("/api/v1/debug/dead-letters/{seq}", debug.dead_letter)
    routes.add_delete("/api/v1/debug/dead-letters/{seq}", debug.dead_letter)
    routes.add_post("/api/v1/debug/dead-letters/{seq}/replay", debug.dead_letter)
