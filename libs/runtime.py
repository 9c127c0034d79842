"""Opening the real adapters from settings, and running background work inside an app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import structlog
from aiohttp import web

from libs.bus import RetryPolicy
from libs.errors import CliptrailError
from libs.lifeline import watch_parent
from libs.logging import configure_logging
from libs.nats_bus import NatsBus, connect_bus
from libs.records import MongoRecordStore, mongo_records
from libs.s3 import S3ObjectStore, UploadTuning, s3_client
from libs.settings import Settings
from libs.topology import Topology

log = structlog.get_logger(__name__)


def topology_of(settings: Settings) -> Topology:
    return Topology(settings.nats_prefix)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.max_tries, settings.retry_base_seconds, settings.retry_cap_seconds)


@contextlib.asynccontextmanager
async def open_bus(settings: Settings, name: str) -> AsyncIterator[NatsBus]:
    topology = topology_of(settings)
    async with connect_bus(
        settings.nats_url, name, topology, retry_policy(settings), settings.ack_wait_seconds
    ) as bus:
        await bus.ensure_streams(topology.streams)
        yield bus


@contextlib.asynccontextmanager
async def open_object_store(settings: Settings) -> AsyncIterator[S3ObjectStore]:
    tuning = UploadTuning(settings.multipart_part_bytes, settings.multipart_concurrency)
    async with s3_client(settings) as client:
        yield S3ObjectStore(client, settings.r2_bucket_name, settings.r2_public_url, tuning)


@contextlib.asynccontextmanager
async def open_records(settings: Settings) -> AsyncIterator[MongoRecordStore]:
    async with mongo_records(settings.mongodb_uri, settings.mongodb_db) as records:
        yield records


Job = Callable[[], Coroutine[Any, Any, None]]


def background(*jobs: Job) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx that runs `jobs` while the app lives and cancels them on shutdown."""

    async def context(_app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_logged(job)) for job in jobs]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return context


async def _logged(job: Job, restart_after: float = 1.0) -> None:
    """Run a job for the app's lifetime, restarting it if it crashes (a bug, or NATS gone)."""
    while True:
        try:
            await job()
            return
        except Exception:
            log.exception("background_job_crashed", job=getattr(job, "__name__", repr(job)))
            await asyncio.sleep(restart_after)


def run_main(service: str, run: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    """A service's whole main(): settings once, logging once, a clean one-line startup error."""
    watch_parent()
    settings = Settings()
    configure_logging(service, settings.log_level)
    try:
        asyncio.run(run(settings))
    except CliptrailError as exc:
        log.error("startup_failed", reason=str(exc))
        raise SystemExit(1) from exc
