"""Session fixtures: real nats-server, nanio and SecantusDB on free ports in a temp dir.

Each test gets its own NATS prefix (subjects and streams), bucket, database and data dir.
Every test under tests/integration/ and tests/contract/, and every test anywhere that uses a
real server or media encoded by the real ffmpeg, is marked `integration` here, so that
`pytest -m "not integration"` starts no server; the server fixtures refuse unmarked tests.
NATS requires authentication as in `make run`: every identity has its seed under the session's
`secrets/`, and the permissions are generated for any one-token prefix. Each test gets its own
NATS prefix (subjects and streams, created as bootstrap does), bucket, database and data dir; its
settings connect as `admin`, and tests.support runs each service as its own identity.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from deploy.natsauth import write_server_config
from deploy.servers import (
    ProcessSpec,
    free_port,
    load_processes,
    nats_config_path,
    placeholder_values,
    start_server,
    stop_process,
)
from libs.messaging.permissions import ADMIN, ANY_PREFIX, seed_file
from libs.runtime.wiring import ensure_streams, open_object_store
from libs.settings import Settings
from libs.storage.records import COLLECTION
from tests.support import make_video

# Suites whose every test talks to a real server or the real ffmpeg (see tests/README.md).
INTEGRATION_SUITES = ("integration", "contract", "multihost")
# Fixtures that start a real server or encode media with the real ffmpeg.
REAL_FIXTURES = frozenset({"server_settings", "moto_url", "small_video", "media_dir"})


def needs_real_parts(item: pytest.Item, tests_root: Path) -> bool:
    suites = {tests_root / suite for suite in INTEGRATION_SUITES}
    fixtures = set(getattr(item, "fixturenames", ()))
    return not suites.isdisjoint(item.path.parents) or not fixtures.isdisjoint(REAL_FIXTURES)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark before `-m` deselects: this hook runs ahead of pytest's own marker selection."""
    tests_root = Path(__file__).parent
    for item in items:
        if needs_real_parts(item, tests_root):
            item.add_marker(pytest.mark.integration)


def refuse_unless_integration(request: pytest.FixtureRequest) -> None:
    """A real server for a test not marked `integration` (one that reached it through
    getfixturevalue, out of the hook's sight) is a bug: the fast suite must start none."""
    node = request.node
    if isinstance(node, pytest.Item):
        marked = node.get_closest_marker("integration") is not None
    else:  # a session fixture: at least one selected test must be an integration test
        marked = any(item.get_closest_marker("integration") for item in request.session.items)
    if not marked:
        pytest.fail(f"{request.fixturename} is for tests marked integration only", pytrace=False)


@pytest.fixture(scope="session")
def server_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Start the three real servers once per session and stop them at the end."""
    refuse_unless_integration(request)
    root = tmp_path_factory.mktemp("servers")
    settings = Settings(
        _env_file=None,
        nats_url=f"nats://127.0.0.1:{free_port()}",
        r2_endpoint_url=f"http://127.0.0.1:{free_port()}",
        mongodb_uri=f"mongodb://127.0.0.1:{free_port()}",
        data_dir=root,
        nats_nkey_seed_file=seed_file(root / "secrets", ADMIN),
    )
    write_server_config(nats_config_path(settings), settings.secrets_dir, ANY_PREFIX)
    servers, _services = load_processes(placeholder_values(settings))
    started: list[subprocess.Popen[bytes]] = []
    try:
        for spec in servers:
            started.append(start_server(spec, root / "logs"))
        yield settings
    finally:
        for process in reversed(started):
            stop_process(process)


@pytest.fixture(scope="session")
def moto_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """moto's S3 server: it answers conditional writes with 412 as R2 does (nanio ignores them)."""
    refuse_unless_integration(request)
    url = f"http://127.0.0.1:{free_port()}"
    binary = str(Path(sys.executable).parent / "moto_server")
    host, port = url.removeprefix("http://").split(":")
    spec = ProcessSpec("moto", [binary, "-H", host, "-p", port], ready="http", url=url)
    process = start_server(spec, tmp_path_factory.mktemp("moto"))
    try:
        yield url
    finally:
        stop_process(process)


def isolated(server_settings: Settings, data_dir: Path) -> Settings:
    """Settings of its own: NATS prefix, bucket, database, data dir, JWT secret, free ports."""
    tag = uuid.uuid4().hex[:10]
    settings = server_settings.model_copy(
        update={
            "nats_prefix": f"t{tag}.",
            "r2_bucket_name": f"test-{tag}",
            "mongodb_db": f"test_{tag}",
            "data_dir": data_dir,
            "auth_jwt_secret": SecretStr(f"test-secret-{tag}-long-enough-for-hs256"),
            "ack_wait_seconds": 4.0,
            "retry_base_seconds": 0.2,
            "retry_cap_seconds": 1.0,
            "max_tries": 4,
            # Each test's dead-letter stream reserves this much of the shared server's store.
            "deadletter_max_bytes": 16 * 1024 * 1024,
            "http_port": 0,
            "storage_health_port": 0,
            "tracking_health_port": 0,
            "render_health_port": 0,
        }
    )
    # The test's streams, as bootstrap makes them before any service starts (its own loop: the
    # tests' loop is not running while a plain fixture is set up).
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(ensure_streams(settings))
    finally:
        loop.close()
    return settings


@pytest.fixture
def settings(request: pytest.FixtureRequest, server_settings: Settings, tmp_path: Path) -> Settings:
    refuse_unless_integration(request)
    return isolated(server_settings, tmp_path / "data")


@pytest_asyncio.fixture
async def bucket(settings: Settings) -> AsyncIterator[Any]:
    """The test's own bucket (created), as a raw aiobotocore client bound to it."""
    async with open_object_store(settings) as store:
        await store.ensure_bucket()
        yield store


@pytest_asyncio.fixture
async def records_collection(settings: Settings) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        yield client[settings.mongodb_db][COLLECTION]
    finally:
        await client.drop_database(settings.mongodb_db)
        await client.close()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "small.mp4", seconds=2.0)
