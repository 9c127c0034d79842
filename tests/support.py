"""Test helpers: real media made with ffmpeg, services run in-process or as subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import psutil
from aiohttp import ClientError, ClientSession, web
from nats.aio.client import Client

from libs.media.runner import ffmpeg_exe
from libs.messaging.dead_letters import NatsDeadLetters
from libs.messaging.events import NewObject
from libs.messaging.permissions import ADMIN, seed_file
from libs.messaging.topology import INGEST, RENDER, STORAGE, TRACKING
from libs.runtime.wiring import (
    nats_identity,
    open_bus,
    open_object_store,
    open_records,
    topology_of,
)
from libs.settings import Settings
from libs.storage.keys import clip_key, clip_stem, highlights_key, thumbnail_key
from libs.storage.objects import StoredObject
from libs.storage.storage_client import StorageClient
from libs.storage.transfer import Tuning, Uploader
from libs.web.auth import issue_token
from libs.web.bounds import app_runner
from services.ingest.app import IngestDeps
from services.ingest.app import build_app as build_ingest
from services.storage.app import StorageDeps
from services.storage.app import build_app as build_storage
from services.tracking.app import TrackingDeps
from services.tracking.app import build_app as build_tracking

# Records of media objects; each user's catalog (database.sqlite) is recorded too.
MEDIA: dict[str, Any] = {"file_type": {"$ne": "database"}}


def bearer(settings: Settings, user: str, admin: bool = False) -> dict[str, str]:
    token = issue_token(settings.auth_jwt_secret.get_secret_value(), user, admin=admin)
    return {"Authorization": f"Bearer {token}"}


async def create_project(http: ClientSession, base: str, headers: dict[str, str]) -> str:
    async with http.post(f"{base}/api/v1/projects", json={"name": "demo"}, headers=headers) as r:
        assert r.status == 201, await r.text()
        project_id: str = (await r.json())["project_id"]
        return project_id


async def upload(
    http: ClientSession, base: str, headers: dict[str, str], project_id: str, video: Path
) -> dict[str, Any]:
    url = f"{base}/api/v1/projects/{project_id}/videos?filename={video.name}"
    with video.open("rb") as body:
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 202, await response.text()
            answer: dict[str, Any] = await response.json()
            return answer


def make_video(path: Path, seconds: float = 2.0, size: str = "320x240") -> Path:
    """A real H.264/AAC MP4 from ffmpeg's test sources."""
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


def make_raw_video(path: Path, megabytes: int, width: int = 320, height: int = 240) -> Path:
    """A large but quick-to-make video: uncompressed frames in Matroska."""
    frame_bytes = width * height * 3 // 2
    frames = max(1, megabytes * 1024 * 1024 // frame_bytes)
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25",
         "-frames:v", str(frames), "-c:v", "rawvideo", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 30.0, interval: float = 0.1
) -> Any:
    """Poll until `check` returns something truthy; fail with its last answer."""
    deadline = time.monotonic() + timeout
    result: Any = None
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last: {result!r}")


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Run an app on a free port of a real socket; yield its base URL."""
    runner = app_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def as_identity(settings: Settings, identity: str) -> Settings:
    """The same settings, connecting to NATS as `identity` (its seed sits next to the admin's)."""
    assert settings.nats_nkey_seed_file is not None
    seed = seed_file(settings.nats_nkey_seed_file.parent, identity)
    return settings.model_copy(update={"nats_nkey_seed_file": seed})


async def connect_nats(settings: Settings, identity: str = ADMIN) -> Client:
    """A raw NATS client as `identity` (admin by default: tests inspect and forge freely)."""
    options = nats_identity(as_identity(settings, identity), identity).connect_options()
    return await nats.connect(settings.nats_servers, connect_timeout=3, **options)


@contextlib.asynccontextmanager
async def service_bus(settings: Settings, identity: str) -> AsyncIterator[Any]:
    async with open_bus(as_identity(settings, identity), identity) as bus:
        yield bus


@contextlib.asynccontextmanager
async def ingest(settings: Settings) -> AsyncIterator[str]:
    async with service_bus(settings, INGEST) as bus:
        deps = IngestDeps(bus=bus, topology=topology_of(settings), jetstream=bus.jetstream)
        async with serving(build_ingest(settings, deps)) as url:
            yield url


@contextlib.asynccontextmanager
async def storage(settings: Settings) -> AsyncIterator[str]:
    async with service_bus(settings, STORAGE) as bus, open_object_store(settings) as store:
        deps = StorageDeps(bus=bus, store=store, topology=topology_of(settings))
        async with serving(build_storage(settings, deps)) as url:
            yield url


@contextlib.asynccontextmanager
async def tracking(settings: Settings) -> AsyncIterator[str]:
    async with service_bus(settings, TRACKING) as bus, open_records(settings) as records:
        await records.ensure_indexes()
        deps = TrackingDeps(bus, records, topology_of(settings), NatsDeadLetters(bus))
        async with serving(build_tracking(settings, deps)) as url:
            yield url


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a subprocess build the same Settings."""
    env: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env_name = alias.choices[0] if alias is not None else name.upper()  # type: ignore[union-attr]
        value = getattr(settings, name)
        if value is None:
            continue
        env[str(env_name)] = str(
            value.get_secret_value() if hasattr(value, "get_secret_value") else value
        )
    return env


def spawn(module: str, settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """A service (`services.<name>.main`) as its own process, with its own NATS identity (for
    kill -9, restarts and RSS measurements)."""
    identity = module.split(".")[1]
    env = {**os.environ, **settings_env(as_identity(settings, identity))}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", module], env=env, stdout=log, stderr=subprocess.STDOUT
        )


@contextlib.asynccontextmanager
async def stack(settings: Settings, with_tracking: bool = True) -> AsyncIterator[str]:
    async with contextlib.AsyncExitStack() as services:
        await services.enter_async_context(storage(settings))
        if with_tracking:
            await services.enter_async_context(tracking(settings))
        yield await services.enter_async_context(ingest(settings))


async def push(settings: Settings, key: str, body: bytes, content_type: str) -> StoredObject:
    """Put an object the way the services do: storage presigns, the bytes go straight to the
    bucket, storage verifies and announces it (so tracking records it)."""
    async with service_bus(settings, RENDER) as bus:
        storage = StorageClient(bus, topology_of(settings))
        async with Uploader(storage, Tuning()).open() as uploader:
            new = NewObject(key=key, content_type=content_type)
            return await uploader.put_bytes(body, new)


async def seed_video_outputs(settings: Settings, user: str, project: str, video: str) -> list[str]:
    stem = clip_stem(1, 1, "Best bit", "vertical")
    outputs = [
        (clip_key(user, project, video, stem), b"clip", "video/mp4"),
        (thumbnail_key(user, project, video, stem), b"jpeg", "image/jpeg"),
        (highlights_key(user, project, video), b"{}", "application/json"),
    ]
    for key, body, content_type in outputs:
        await push(settings, key, body, content_type)
    return [key for key, _, _ in outputs]


async def leftovers(settings: Settings) -> list[str]:
    """Media objects and open multipart uploads in the test's bucket (a refusal leaves none)."""
    async with open_object_store(settings) as store:
        page = await store.list_page("users/", None, 1000)
        keys = [entry.key for entry in page.entries if not entry.key.endswith("database.sqlite")]
        return keys + [f"open upload of {u.key}" for u in await store.open_uploads()]


async def plant(store: Any, key: str, body: Path | bytes, content_type: str) -> None:
    """Write an object behind storage's back (not announced, so never recorded): what a
    bucket older than the ledger, or a stray tool, leaves."""
    data = body.read_bytes() if isinstance(body, Path) else body
    presigned = await store.presign_put(key, content_type, {}, None, 60)
    async with (
        ClientSession() as http,
        http.put(presigned.url, data=io.BytesIO(data), headers=presigned.headers) as response,
    ):
        assert response.status == 200, await response.text()


async def answers_ok(http: ClientSession, url: str) -> bool:
    """A GET of `url` answers 200 (False while nothing listens there yet)."""
    try:
        async with http.get(url) as response:
            return response.status == 200
    except (OSError, ClientError):
        return False


@contextlib.asynccontextmanager
async def peak_rss(pid: int) -> AsyncIterator[list[int]]:
    """Sample a process's resident memory every 10 ms; the list's one item is the peak."""
    process = psutil.Process(pid)
    peak = [process.memory_info().rss]

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], process.memory_info().rss)
            await asyncio.sleep(0.01)

    task = asyncio.create_task(sample())
    try:
        yield peak
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
