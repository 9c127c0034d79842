"""Three hosts, one of them SIGKILLed whole (its NATS node and its four services) mid-load and
restarted a little later: nothing accepted is lost, nothing is left behind, and every replica
sees the same projects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from pymongo import AsyncMongoClient

from libs.runtime.wiring import open_object_store
from libs.storage.records import COLLECTION
from tests.multihost.client import Answer, Client
from tests.multihost.cluster import Cluster
from tests.support import eventually, make_raw_video, make_video

pytestmark = [pytest.mark.multihost, pytest.mark.timeout(420)]

USERS = ("alice", "bob", "carol")


@pytest.fixture
def videos(tmp_path: Path) -> tuple[Path, Path]:
    """A small video (single PUT) and a large one (multipart: four 5 MiB parts)."""
    small = make_video(tmp_path / "small.mp4", seconds=2.0)
    return small, make_raw_video(tmp_path / "large.mkv", megabytes=18)


async def test_a_host_killed_mid_load_loses_nothing_accepted_and_leaves_nothing(
    cluster: Cluster, videos: tuple[Path, Path]
) -> None:
    small, large = videos
    victim = cluster.hosts[2]
    async with ClientSession() as http:
        client = Client(http, cluster.ingest_urls, cluster.admin)
        load = Load(client)
        kept = {user: [await client.create_project(user) for _ in range(2)] for user in USERS}
        doomed = {user: await client.create_project(user) for user in USERS}
        await load.uploads([(u, p, small) for u in USERS for p in (*kept[u], doomed[u])])
        # The large uploads go first to the victim's ingest: the kill catches them mid-multipart.
        client.aim(victim.ingest_url)
        during = load.start([(u, kept[u][0], large) for u in USERS])
        during += load.start([(u, p, small) for u in USERS for p in kept[u]])
        await eventually(lambda: _open_uploads(cluster), timeout=60, interval=0.01)
        cluster.kill(victim)
        killed_at = time.monotonic()
        await asyncio.gather(*(client.delete_project(u, doomed[u]) for u in USERS))
        for user in USERS:
            kept[user].append(await client.create_project(user))
        await load.uploads([(u, kept[u][-1], small) for u in USERS])
        await asyncio.sleep(max(0.0, 5.0 - (time.monotonic() - killed_at)))
        cluster.start_node(victim)
        cluster.start_services(victim)
        await cluster.wait_ready(victim, http)
        await load.uploads([(u, p, small) for u in USERS for p in kept[u][1:]])
        await asyncio.gather(*during)
        print(f"\n{len(load.accepted)} uploads accepted; retried: {len(client.retried)}")
        print("\n".join(client.retried[:40]))
        await _check(cluster, client, load, kept, doomed)


class Load:
    """Uploads, a few at a time; what each was answered."""

    def __init__(self, client: Client, at_once: int = 3) -> None:
        self.client = client
        self.slots = asyncio.Semaphore(at_once)
        self.accepted: list[tuple[str, str, dict[str, Any]]] = []
        self.refused: list[Answer] = []

    async def one(self, user: str, project: str, video: Path) -> None:
        async with self.slots:
            answer = await self.client.upload(user, project, video)
        if answer.status == 202:
            self.accepted.append((user, project, answer.body))
        else:
            self.refused.append(answer)

    def start(self, jobs: list[tuple[str, str, Path]]) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self.one(*job)) for job in jobs]

    async def uploads(self, jobs: list[tuple[str, str, Path]]) -> None:
        await asyncio.gather(*self.start(jobs))


async def _check(
    cluster: Cluster,
    client: Client,
    load: Load,
    kept: dict[str, list[str]],
    doomed: dict[str, str],
) -> None:
    assert load.refused == []
    gone = set(doomed.values())
    live = [(u, p, body) for u, p, body in load.accepted if p not in gone]
    await settled(lambda: _not_ready(client, live), timeout=90)
    for user in USERS:
        for base in cluster.ingest_urls:
            listed = await client.projects(base, user)
            assert set(kept[user]) <= listed, (base, user, set(kept[user]) - listed)
            assert doomed[user] not in listed, (base, user)
    await eventually(lambda: _agree(cluster), timeout=60, interval=0.5)
    bucket, ledger = await _bucket_keys(cluster), await _ledger_keys(cluster)
    assert sorted(set(ledger)) == sorted(ledger), "a duplicate record"
    assert set(bucket) == set(ledger)
    assert {body["r2_key"] for _, _, body in live} <= set(bucket)
    for user, project in doomed.items():
        prefix = f"users/{user}/projects/{project}/"
        assert not [key for key in bucket if key.startswith(prefix)]
    await eventually(lambda: _no_open_uploads(cluster), timeout=60, interval=0.5)


async def settled(problems: Callable[[], Awaitable[list[str]]], timeout: float) -> None:
    """Poll until `problems` finds none; fail with the last ones found."""
    found: list[str] = []

    async def none() -> bool:
        found[:] = await problems()
        return not found

    try:
        await eventually(none, timeout=timeout, interval=0.5)
    except AssertionError:
        raise AssertionError(f"{len(found)} left after {timeout}s: {found}") from None


async def _not_ready(client: Client, live: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """Accepted uploads not `ready` as the next replica in turn sees them."""
    late = []
    for user, project, body in live:
        base = client.next_url()
        status = await client.video_status(base, user, project, body["video_id"])
        if status != "ready":
            late.append(f"{user}/{project}/{body['video_id']}: {status or 'not found'} at {base}")
    return late


async def _agree(cluster: Cluster) -> bool:
    return await _bucket_keys(cluster) == sorted(set(await _ledger_keys(cluster)))


async def _bucket_keys(cluster: Cluster) -> list[str]:
    keys: list[str] = []
    token: str | None = None
    async with open_object_store(cluster.admin) as store:
        while True:
            page = await store.list_page("", token, 1000)
            keys += [entry.key for entry in page.entries]
            token = page.next_token
            if not token:
                return sorted(keys)


async def _ledger_keys(cluster: Cluster) -> list[str]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cluster.admin.mongodb_uri)
    try:
        records = mongo[cluster.admin.mongodb_db][COLLECTION]
        return sorted([doc["object_key"] async for doc in records.find({}, {"object_key": 1})])
    finally:
        await mongo.close()


async def _open_uploads(cluster: Cluster) -> bool:
    async with open_object_store(cluster.admin) as store:
        return bool(await store.open_uploads())


async def _no_open_uploads(cluster: Cluster) -> bool:
    return not await _open_uploads(cluster)
