"""build_app for render: health routes, and the one table of what it consumes."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from libs.errors import CliptrailError
from libs.messaging.bus import EventBus
from libs.messaging.topology import RENDER, Topology
from libs.runtime.edge import Edge, consume, mount_edge
from libs.settings import Settings
from libs.storage.storage_client import StorageClient
from libs.web.server import add_health_routes, problem_middleware
from services.render.ffmpeg import FfmpegMedia, FfmpegRunner
from services.render.handlers import RenderHandlers
from services.render.model import FrameSize
from services.render.service import RenderOptions, RenderService
from services.render.transfers import Transfers
from services.render.workspace import Workspace

PRESIGN_TIMEOUT_SECONDS = 10.0
PUSH_TIMEOUT_SECONDS = 300.0  # a push replies once the object is uploaded and verified


@dataclass(frozen=True)
class RenderDeps:
    bus: EventBus
    topology: Topology


def render_options(settings: Settings) -> RenderOptions:
    try:
        vertical = FrameSize.parse(settings.render_vertical_size)
    except ValueError as exc:
        raise CliptrailError(f"RENDER_VERTICAL_SIZE: {exc}") from exc
    return RenderOptions(settings.render_preset, vertical, settings.r2_public_url)


def build_service(settings: Settings, deps: RenderDeps) -> RenderService:
    workspace = Workspace(settings.work_dir)
    runner = FfmpegRunner(settings.render_concurrency)
    presigner = StorageClient(deps.bus, deps.topology, PRESIGN_TIMEOUT_SECONDS)
    pusher = StorageClient(deps.bus, deps.topology, PUSH_TIMEOUT_SECONDS)
    return RenderService(
        media=FfmpegMedia(runner, settings.render_timeout_factor),
        storage=Transfers(presigner, pusher, workspace),
        workspace=workspace,
        options=render_options(settings),
    )


def edge(handlers: RenderHandlers, topology: Topology) -> Edge:
    return Edge(
        RENDER,
        # One video at a time; its encodes share the RENDER_CONCURRENCY slots.
        consume(
            topology.render_requested,
            handler=handlers.on_render_requested,
            on_dead=handlers.on_render_dead,
            batch=1,
        ),
    )


def build_app(settings: Settings, deps: RenderDeps) -> web.Application:
    handlers = RenderHandlers(build_service(settings, deps), deps.bus, deps.topology)
    app = web.Application(middlewares=[problem_middleware()])
    add_health_routes(app, {"nats": deps.bus.ping})
    mount_edge(app, deps.bus, deps.topology, edge(handlers, deps.topology))
    return app
