"""The `cluster` fixture: three hosts on loopback addresses, started, bootstrapped (streams at
R3, the bucket) and stopped; the test's own prefix, bucket and database on the shared servers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from aiohttp import ClientSession
from nats.errors import Error as NatsError
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from libs.errors import CliptrailError
from libs.messaging.permissions import ADMIN, seed_file
from libs.runtime.wiring import ensure_streams, open_object_store
from libs.settings import Settings
from tests.multihost.cluster import Cluster, host_settings, make_hosts
from tests.support import eventually


def cluster_settings(server_settings: Settings, cluster: Cluster) -> Settings:
    tag = uuid.uuid4().hex[:10]
    update: dict[str, object] = {
        "nats_url": ",".join(host.nats_url for host in cluster.hosts),
        "nats_prefix": f"m{tag}.",
        "nats_nkey_seed_file": seed_file(cluster.secrets_dir, ADMIN),
        "stream_replicas": 3,
        "r2_bucket_name": f"multihost-{tag}",
        "mongodb_db": f"multihost_{tag}",
        "auth_jwt_secret": SecretStr(f"multihost-secret-{tag}-long-enough-for-hs256"),
        "ack_wait_seconds": 5.0,
        "retry_base_seconds": 0.2,
        "retry_cap_seconds": 1.0,
        "render_preset": "ultrafast",
        # Small parts, so that the large uploads are multipart; what a killed host leaves open
        # is aborted by a live storage's sweep once it is this old.
        "multipart_part_bytes": 5 * 1024 * 1024,
        "multipart_abandoned_seconds": 15.0,
        "multipart_sweep_seconds": 1.0,
    }
    return server_settings.model_copy(update=update)


async def bootstrapped(settings: Settings) -> bool:
    """Streams at R3 once the cluster has elected its JetStream leader; False until then."""
    try:
        await ensure_streams(settings)
    except (CliptrailError, NatsError, TimeoutError):
        return False
    return True


@pytest_asyncio.fixture
async def cluster(server_settings: Settings, tmp_path: Path) -> AsyncIterator[Cluster]:
    hosts = make_hosts(tmp_path / "hosts")
    built = Cluster(hosts, server_settings, tmp_path / "secrets")
    built.admin = cluster_settings(server_settings, built)
    for host in hosts:
        host.settings = host_settings(built.admin, host, hosts)
    built.write_configs()
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(built.admin.mongodb_uri)
    try:
        for host in hosts:
            built.start_node(host)
        await eventually(lambda: bootstrapped(built.admin), timeout=60, interval=0.5)
        async with open_object_store(built.admin) as store:
            await store.ensure_bucket()
        async with ClientSession() as http:
            for host in hosts:
                built.start_services(host)
            for host in hosts:
                await built.wait_ready(host, http)
        yield built
    finally:
        built.stop()
        await mongo.drop_database(built.admin.mongodb_db)
        await mongo.close()
