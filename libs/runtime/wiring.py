"""Opening the real adapters from settings, and a service's whole main()."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import structlog

from libs.errors import CliptrailError
from libs.logging import configure_logging
from libs.messaging import streams
from libs.messaging.bus import RetryPolicy
from libs.messaging.nats_bus import BusTuning, NatsBus, NatsIdentity, connect_bus
from libs.messaging.permissions import ADMIN, seed_file
from libs.messaging.streams import StreamLimits
from libs.messaging.topology import Topology
from libs.observability.tracing import configure_tracing
from libs.runtime.lifeline import watch_parent
from libs.settings import Settings

if TYPE_CHECKING:  # imported where opened: ingest and render need neither botocore nor pymongo
    from libs.storage.records import MongoRecordStore
    from libs.storage.s3 import S3ObjectStore

log = structlog.get_logger(__name__)


def topology_of(settings: Settings) -> Topology:
    return Topology(settings.nats_prefix)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.max_tries, settings.retry_base_seconds, settings.retry_cap_seconds)


def nats_identity(settings: Settings, name: str) -> NatsIdentity:
    return NatsIdentity(
        name,
        settings.nats_nkey_seed_file,
        settings.nats_creds_file,
        settings.nats_tls_ca_file,
        settings.nats_tls_cert_file,
        settings.nats_tls_key_file,
    )


@contextlib.asynccontextmanager
async def open_bus(settings: Settings, name: str) -> AsyncIterator[NatsBus]:
    """The bus as identity `name` (a service, `bootstrap` or `admin`), with the credentials the
    settings give. Streams are bootstrap's to create (`ensure_streams`), never a service's."""
    identity = nats_identity(settings, name)
    async with connect_bus(
        settings.nats_servers,
        identity,
        topology_of(settings),
        retry_policy(settings),
        BusTuning(settings.ack_wait_seconds, settings.max_ack_pending),
    ) as bus:
        yield bus


def as_admin(settings: Settings) -> Settings:
    """An operator's command: the settings' own NATS identity if they name one, else the
    `admin` seed that `make run` keeps under secrets/."""
    if settings.nats_nkey_seed_file or settings.nats_creds_file:
        return settings
    seed = seed_file(settings.secrets_dir, ADMIN)
    return settings.model_copy(update={"nats_nkey_seed_file": seed}) if seed.exists() else settings


def stream_limits(settings: Settings) -> StreamLimits:
    return StreamLimits(
        settings.stream_replicas,
        settings.deadletter_max_age_seconds,
        settings.deadletter_max_bytes,
    )


async def ensure_streams(settings: Settings) -> None:
    """Create the missing streams and KV buckets (never change existing ones); needs the
    `bootstrap` (or `admin`) identity."""
    topology = topology_of(settings)
    buckets = topology.key_values(settings.catalog_lease_seconds)
    async with open_bus(settings, "bootstrap") as bus:
        await streams.ensure_streams(
            bus.jetstream, topology.streams, buckets, stream_limits(settings)
        )


@contextlib.asynccontextmanager
async def open_object_store(settings: Settings) -> AsyncIterator[S3ObjectStore]:
    from libs.storage.s3 import S3ObjectStore, s3_client

    async with s3_client(settings) as client:
        yield S3ObjectStore(client, settings.r2_bucket_name, settings.r2_public_url)


@contextlib.asynccontextmanager
async def open_records(settings: Settings) -> AsyncIterator[MongoRecordStore]:
    from libs.storage.records import mongo_records

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
