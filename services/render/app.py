"""build_app for render: health routes; the render pipeline arrives with its own issue."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from libs.bus import EventBus
from libs.settings import Settings
from libs.topology import Topology
from libs.web import add_health_routes, problem_middleware


@dataclass(frozen=True)
class RenderDeps:
    bus: EventBus
    topology: Topology


def build_app(settings: Settings, deps: RenderDeps) -> web.Application:
    app = web.Application(middlewares=[problem_middleware])
    add_health_routes(app, {"nats": deps.bus.ping})
    return app
