"""Create what the services expect, idempotently: the bucket, the streams, the indexes."""

from __future__ import annotations

from libs.runtime.wiring import open_bus, open_object_store, open_records
from libs.settings import Settings


async def bootstrap(settings: Settings) -> None:
    async with open_object_store(settings) as store:
        await store.ensure_bucket()
    async with open_bus(settings, "bootstrap"):
        pass  # open_bus ensures the streams
    async with open_records(settings) as records:
        await records.ensure_indexes()
