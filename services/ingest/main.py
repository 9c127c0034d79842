"""Wiring only: the real adapters, then serve the HTTP API until a signal."""

from __future__ import annotations

import structlog

from libs.runtime.wiring import open_bus, run_main, topology_of
from libs.settings import Settings
from libs.web.auth import secret_is_weak
from libs.web.server import serve_until_signal
from services.ingest import uploads
from services.ingest.app import IngestDeps, build_app

log = structlog.get_logger(__name__)


async def run(settings: Settings) -> None:
    uploads.strict_part_headers()
    if secret_is_weak(settings.auth_jwt_secret.get_secret_value()):
        log.warning("weak_jwt_secret", hint="set AUTH_JWT_SECRET to 32+ bytes outside dev")
    async with open_bus(settings, "ingest") as bus:
        deps = IngestDeps(bus=bus, topology=topology_of(settings))
        await serve_until_signal(build_app(settings, deps), settings.http_host, settings.http_port)


def main() -> None:
    run_main("ingest", run)


if __name__ == "__main__":
    main()
