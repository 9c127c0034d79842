"""Wiring only: the real adapters, then serve until a signal."""

from __future__ import annotations

from libs.runtime.wiring import open_bus, run_main, topology_of
from libs.settings import Settings
from libs.web.server import serve_until_signal
from services.render.app import RenderDeps, build_app


async def run(settings: Settings) -> None:
    async with open_bus(settings, "render") as bus:
        app = build_app(settings, RenderDeps(bus=bus, topology=topology_of(settings)))
        await serve_until_signal(app, settings.http_host, settings.render_health_port)


def main() -> None:
    run_main("render", run)


if __name__ == "__main__":
    main()
