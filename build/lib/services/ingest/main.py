"""Wiring only: the real adapters, then serve the HTTP API until a signal."""

from __future__ import annotations

from libs.runtime.wiring import open_bus, run_main, topology_of
from libs.settings import Settings
from libs.web.auth import token_rules
from libs.web.server import serve_until_signal
from services.ingest import uploads
from services.ingest.app import IngestDeps, build_app


async def run(settings: Settings) -> None:
    token_rules(settings)  # a short secret is refused before anything is connected
    uploads.strict_part_headers()
    async with open_bus(settings, "ingest") as bus:
        deps = IngestDeps(bus=bus, topology=topology_of(settings))
        await serve_until_signal(build_app(settings, deps), settings.http_host, settings.http_port)


def main() -> None:
    run_main("ingest", run)


if __name__ == "__main__":
    main()
