"""Opening the real adapters from settings, and a service's whole main()."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import structlog

from libs.errors import CliptrailError
from libs.logging import configure_logging
from libs.messaging.bus import RetryPolicy
from libs.messaging.nats_bus import NatsBus, connect_bus
from libs.messaging.topology import Topology
from libs.observability.tracing import configure_tracing
from libs.runtime.lifeline import watch_parent
from libs.settings import Settings
from libs.storage.records import MongoRecordStore, mongo_records
from libs.storage.s3 import S3ObjectStore, s3_client

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
    async with s3_client(settings) as client:
        yield S3ObjectStore(client, settings.r2_bucket_name, settings.r2_public_url)


@contextlib.asynccontextmanager
async def open_records(settings: Settings) -> AsyncIterator[MongoRecordStore]:
    async with mongo_records(settings.mongodb_uri, settings.mongodb_db) as records:
        yield records


def run_main(service: str, run: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    """A service's whole main(): settings once, logging once, a clean one-line startup error."""
    watch_parent()
    settings = Settings()
    configure_logging(service, settings.log_level)
    if settings.telemetry:
        configure_tracing(service, settings.otlp_endpoint)
    try:
        asyncio.run(run(settings))
    except CliptrailError as exc:
        log.error("startup_failed", reason=str(exc))
        raise SystemExit(1) from exc
