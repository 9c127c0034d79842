"""Wiring only: the real adapters, then serve until a signal."""

from __future__ import annotations

from libs.runtime.wiring import open_bus, open_object_store, run_main, topology_of
from libs.settings import Settings
from libs.web.server import serve_until_signal
from services.storage.app import StorageDeps, build_app


async def run(settings: Settings) -> None:
    async with open_bus(settings, "storage") as bus, open_object_store(settings) as store:
        await store.ensure_bucket()  # the startup connectivity check: fails with the reason
        deps = StorageDeps(bus=bus, store=store, topology=topology_of(settings))
        app = build_app(settings, deps)
        await serve_until_signal(app, settings.http_host, settings.storage_health_port)


def main() -> None:
    run_main("storage", run)


if __name__ == "__main__":
    main()
