"""build_app for render: health routes, and the one table of what it consumes."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from libs.errors import CliptrailError
from libs.media.runner import FfmpegRunner
from libs.messaging.bus import EventBus
from libs.messaging.topology import RENDER, Topology
from libs.runtime.edge import Edge, consume, mount_edge
from libs.settings import Settings
from libs.storage.fetch import ObjectFetcher
from libs.storage.storage_client import StorageClient
from libs.storage.transfer import Tuning, Uploader
from libs.web.server import add_health_routes, problem_middleware
from services.render.ffmpeg import FfmpegMedia
from services.render.handlers import RenderHandlers
from services.render.model import FrameSize
from services.render.service import RenderOptions, RenderService
from services.render.transfers import Transfers
from services.render.workspace import Workspace

STORAGE_TIMEOUT_SECONDS = 30.0  # presigning is instant; completing verifies with a HEAD


@dataclass(frozen=True)
class RenderDeps:
    bus: EventBus
    topology: Topology


def render_options(settings: Settings) -> RenderOptions:
    try:
        vertical = FrameSize.parse(settings.render_vertical_size)
    except ValueError as exc:
        raise CliptrailError(f"RENDER_VERTICAL_SIZE: {exc}") from exc
    return RenderOptions(
        settings.render_preset, vertical, settings.r2_public_url, settings.media_limits
    )


def build_service(settings: Settings, transfers: Transfers) -> RenderService:
    workspace = Workspace(settings.scratch_dir("render"))
    runner = FfmpegRunner(settings.render_concurrency, settings.render_ffmpeg_memory_bytes)
    return RenderService(
        media=FfmpegMedia(runner, settings.render_timeout_factor),
        storage=transfers,
        workspace=workspace,
        options=render_options(settings),
    )


def edge(handlers: RenderHandlers, topology: Topology, max_in_flight: int = 4) -> Edge:
    return Edge(
        RENDER,
        # One video at a time per replica; its encodes share the RENDER_CONCURRENCY slots. At
        # most `max_in_flight` (RENDER_MAX_IN_FLIGHT) videos across all replicas.
        consume(
            topology.render_requested,
            handler=handlers.on_render_requested,
            on_dead=handlers.on_render_dead,
            batch=1,
            max_ack_pending=max_in_flight,
        ),
    )


def build_app(settings: Settings, deps: RenderDeps) -> web.Application:
    storage = StorageClient(deps.bus, deps.topology, STORAGE_TIMEOUT_SECONDS)
    transfers = Transfers(
        ObjectFetcher(storage),
        Uploader(storage, Tuning(settings.multipart_part_bytes, settings.multipart_concurrency)),
    )
    handlers = RenderHandlers(build_service(settings, transfers), deps.bus, deps.topology)
    app = web.Application(middlewares=[problem_middleware()])
    add_health_routes(app, {"nats": deps.bus.ping}, settings.telemetry)
    app.cleanup_ctx.append(transfers.fetcher.context)
    app.cleanup_ctx.append(transfers.uploader.context)
    mount_edge(
        app, deps.bus, deps.topology, edge(handlers, deps.topology, settings.render_max_in_flight)
    )
    return app
