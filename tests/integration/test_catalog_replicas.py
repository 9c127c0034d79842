"""Several ingest replicas against nanio (which ignores conditional writes): the per-user lease
and the version announced in NATS KV lose no write and let every replica read its writes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from libs.settings import Settings
from tests.support import bearer, create_project, ingest, storage, tracking


@contextlib.asynccontextmanager
async def replicas(settings: Settings, root: Path, count: int) -> AsyncIterator[list[str]]:
    """`count` ingest replicas, each with its own scratch and catalog cache; one storage and
    one tracking behind them."""
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(storage(settings))
        await stack.enter_async_context(tracking(settings))
        urls = []
        for n in range(count):
            own = settings.model_copy(update={"data_dir": root / f"replica-{n}"})
            urls.append(await stack.enter_async_context(ingest(own)))
        yield urls


async def project_ids(http: ClientSession, base: str, headers: dict[str, str]) -> set[str]:
    async with http.get(f"{base}/api/v1/projects", headers=headers) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return {p["project_id"] for p in body["projects"]}


async def test_interleaved_writes_on_two_replicas_are_all_kept(
    settings: Settings, bucket: Any, http: ClientSession, tmp_path: Path
) -> None:
    alice = bearer(settings, "alice")
    async with replicas(settings, tmp_path, 2) as (one, other):
        created: list[str] = []
        for _ in range(15):
            created += await asyncio.gather(
                create_project(http, one, alice), create_project(http, other, alice)
            )
    fresh = settings.model_copy(update={"data_dir": tmp_path / "fresh"})
    async with storage(fresh), ingest(fresh) as third:
        assert await project_ids(http, third, alice) == set(created)


async def test_a_read_on_one_replica_sees_a_write_answered_on_another(
    settings: Settings, bucket: Any, http: ClientSession, tmp_path: Path
) -> None:
    alice = bearer(settings, "alice")
    async with replicas(settings, tmp_path, 2) as (one, other):
        await project_ids(http, other, alice)  # the second replica has a cache to go stale
        for n in range(20):
            writer, reader = (one, other) if n % 2 == 0 else (other, one)
            project = await create_project(http, writer, alice)
            assert project in await project_ids(http, reader, alice), f"round {n}"
