"""Wiring only: the real adapters, then serve until a signal."""

from __future__ import annotations

from libs.messaging.dead_letters import NatsDeadLetters
from libs.runtime.wiring import open_bus, open_records, run_main, topology_of
from libs.settings import Settings
from libs.web.server import serve_until_signal
from services.tracking.app import TrackingDeps, build_app


async def run(settings: Settings) -> None:
    async with open_bus(settings, "tracking") as bus, open_records(settings) as records:
        await records.ensure_indexes()
        deps = TrackingDeps(bus, records, topology_of(settings), NatsDeadLetters(bus))
        app = build_app(settings, deps)
        await serve_until_signal(app, settings.http_host, settings.tracking_health_port)


def main() -> None:
    run_main("tracking", run)


if __name__ == "__main__":
    main()
