"""Events to ledger: records written per second from a burst of 10,000 `storage.object.created`
events (published to JetStream, consumed by the tracking service), against one raw
`bulk_write` of the same upserts (RecordStore.upsert_many) into the same MongoDB server.

The raw write goes first, into records of another project, so the tracking service writes into
the larger collection.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pymongo import MongoClient

from libs.messaging.events import ObjectEvent, encode
from libs.runtime.wiring import open_bus, open_records, topology_of
from libs.settings import Settings
from libs.storage.keys import clip_key, clip_stem, parse_key
from libs.storage.objects import StoredObject
from libs.storage.records import COLLECTION
from services.storage.service import created_event
from services.tracking.service import record_of
from tests.bench.common import Row, Scale, bench_settings, system, wait_healthy

PUBLISHING_AT_ONCE = 500


def events(settings: Settings, project: str, count: int) -> list[ObjectEvent]:
    stems = [clip_stem(n, 1, f"clip {n}", "original") for n in range(1, 11)]
    keys = [clip_key("bench", project, f"v{n // 10:04d}", stems[n % 10]) for n in range(count)]
    return [
        created_event(
            settings.r2_bucket_name,
            parse_key(key),
            StoredObject(key=key, size=10, etag=f"{n:032x}", content_type="video/mp4"),
        )
        for n, key in enumerate(keys)
    ]


async def raw_upserts(settings: Settings, burst: list[ObjectEvent]) -> float:
    records = [record_of(event) for event in burst]
    async with open_records(settings) as store:
        started = time.perf_counter()
        await store.upsert_many(records)
        return time.perf_counter() - started


async def through_tracking(settings: Settings, burst: list[ObjectEvent]) -> float:
    """From the first publish until the last record is in MongoDB."""
    subject = topology_of(settings).object_created
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    records = mongo[settings.mongodb_db][COLLECTION]
    project = burst[0].data.project_id
    async with open_bus(settings, "bench") as bus:
        started = time.perf_counter()
        for start in range(0, len(burst), PUBLISHING_AT_ONCE):
            chunk = burst[start : start + PUBLISHING_AT_ONCE]
            await asyncio.gather(*(bus.publish(subject, encode(e), msg_id=e.id) for e in chunk))
        while await asyncio.to_thread(records.count_documents, {"project_id": project}) < len(
            burst
        ):
            await asyncio.sleep(0.1)
    mongo.close()
    return time.perf_counter() - started


async def wait_tracking(settings: Settings) -> None:
    async with aiohttp.ClientSession() as http:
        await wait_healthy(http, f"http://127.0.0.1:{settings.tracking_health_port}/readyz")


def run(scale: Scale) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-events-") as temp:
        root = Path(temp)
        settings = bench_settings(root)
        with system(settings, root, ("services.tracking.main",)):
            asyncio.run(wait_tracking(settings))
            raw = asyncio.run(raw_upserts(settings, events(settings, "raw", scale.events)))
            ours = asyncio.run(through_tracking(settings, events(settings, "ev", scale.events)))
    what = f"ledger: records/s from {scale.events:,} created events through tracking"
    note = f"{ours:.2f} s through tracking, {raw:.2f} s raw"
    return [
        Row(what, scale.events / ours, "records/s", "one raw bulk_write of the same upserts",
            scale.events / raw, at_least=0.8, note=note),
    ]  # fmt: skip
