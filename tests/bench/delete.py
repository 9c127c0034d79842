"""Deleting a project of 10,000 tracked objects: DELETE → empty prefix (and no records left).

(a) On the local servers, against the floor: `s5cmd rm 'prefix/*'` of an identical copy plus
one raw `delete_many` of as many identical records. (b) With 30 ms of round-trip time between
storage and the object store (tests/latencyproxy.py, as R2 over the internet), against
`s5cmd rm` through the same proxy and one DeleteObject request per key (timed on a random
sample of the keys and scaled to all of them: 10,000 round trips would take minutes).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pymongo import MongoClient

from deploy.servers import free_port, stop_process
from libs.settings import Settings
from libs.storage.keys import clip_key, clip_stem, project_prefix
from libs.storage.records import COLLECTION
from libs.storage.s3 import s3_client
from tests.bench.common import (
    Row,
    Scale,
    Stack,
    bearer,
    bench_settings,
    create_project,
    s5cmd,
    system,
    until_works,
    wait_healthy,
)

USER = "bench"
CLIPS_PER_VIDEO = 10
RTT = 0.030


def project_keys(project: str, objects: int) -> list[str]:
    stem = [clip_stem(n, 1, f"clip {n}", "original") for n in range(1, CLIPS_PER_VIDEO + 1)]
    videos = objects // CLIPS_PER_VIDEO
    return [clip_key(USER, project, f"v{v:04d}", s) for v in range(videos) for s in stem]


def seed_tree(root: Path, keys: list[str], prefix: str) -> Path:
    """The same tiny file for every key, laid out so `s5cmd cp dir/*` recreates the keys."""
    tree = root / "tree"
    for key in keys:
        path = tree / key.removeprefix(prefix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"clip bytes")
    return tree


def record(key: str, project: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    video = key.split("/videos/")[1].split("/")[0]
    return {
        "object_key": key, "project_id": project, "user_id": USER, "scene_id": None,
        "file_type": "clip", "size_bytes": 10, "content_type": "video/mp4",
        "metadata": {"video_id": video, "etag": ""}, "created_at": now, "updated_at": now,
    }  # fmt: skip


async def delete_until_gone(settings: Settings, project: str) -> tuple[float, float]:
    """(DELETE → empty prefix, DELETE → no record left either); listing straight at nanio."""
    base = f"http://127.0.0.1:{settings.http_port}"
    prefix = project_prefix(USER, project)
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    records = mongo[settings.mongodb_db][COLLECTION]
    async with aiohttp.ClientSession() as http, s3_client(settings) as s3:
        started = time.perf_counter()
        url = f"{base}/api/v1/projects/{project}"
        async with http.delete(url, headers=bearer(settings, USER)) as r:
            assert r.status == 204, await r.text()
        listing = {"Bucket": settings.r2_bucket_name, "Prefix": prefix, "MaxKeys": 1}
        while (await s3.list_objects_v2(**listing)).get("KeyCount"):
            await asyncio.sleep(0.05)
        emptied = time.perf_counter() - started
        while await asyncio.to_thread(records.count_documents, {"project_id": project}, limit=1):
            await asyncio.sleep(0.1)
    mongo.close()
    return emptied, time.perf_counter() - started


async def naive_delete(settings: Settings, keys: list[str]) -> float:
    async with s3_client(settings) as s3:
        started = time.perf_counter()
        for key in keys:
            await s3.delete_object(Bucket=settings.r2_bucket_name, Key=key)
        return time.perf_counter() - started


def raw_delete_many(settings: Settings, project: str) -> float:
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    started = time.perf_counter()
    mongo[settings.mongodb_db][COLLECTION].delete_many({"project_id": project})
    elapsed = time.perf_counter() - started
    mongo.close()
    return elapsed


@contextmanager
def latency_proxy(settings: Settings) -> Iterator[str]:
    """tests/latencyproxy.py in front of nanio, as its own process; yields its URL."""
    port = free_port()
    upstream = settings.r2_endpoint_url.rsplit(":", 1)[1]
    argv = [sys.executable, "-m", "tests.latencyproxy", upstream, str(port), str(RTT)]
    process = subprocess.Popen(argv)
    try:
        asyncio.run(until_works(lambda: _connects(port), "the latency proxy"))
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


async def _connects(port: int) -> bool:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    return True


async def wait_services(settings: Settings) -> None:
    ports = (settings.storage_health_port, settings.tracking_health_port)
    async with aiohttp.ClientSession() as http:
        for port in ports:
            await wait_healthy(http, f"http://127.0.0.1:{port}/readyz")


@dataclass(frozen=True)
class Seeded:
    near: str  # the project deleted on the local servers
    far: str  # the project deleted through the latency proxy
    suffixes: list[str]  # every key of a copy, after its prefix


def seed(settings: Settings, root: Path, scale: Scale) -> Seeded:
    """Three projects' worth of records (two to DELETE, one for the floor's raw delete_many)
    and five copies of the objects (two projects, s5cmd near and far, the naive sample's)."""
    near, far = (asyncio.run(create_project(settings, USER, name)) for name in ("near", "far"))
    keys = {p: project_keys(p, scale.delete_objects) for p in (near, far, "floor")}
    tree = seed_tree(root, keys[near], project_prefix(USER, near))
    prefixes = [project_prefix(USER, near), project_prefix(USER, far)]
    print(f"bench: seeding 5 copies of {scale.delete_objects} objects...", flush=True)
    for prefix in [*prefixes, "s5cmd-near/", "s5cmd-far/", "naive/"]:
        s5cmd(settings, "cp", f"{tree}/*", f"s3://{settings.r2_bucket_name}/{prefix}")
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    for project, project_keys_ in keys.items():
        records = [record(key, project) for key in project_keys_]
        mongo[settings.mongodb_db][COLLECTION].insert_many(records)
    mongo.close()
    return Seeded(near, far, [key.removeprefix(prefixes[0]) for key in keys[near]])


def near_rows(settings: Settings, seeded: Seeded) -> list[Row]:
    floor_records = raw_delete_many(settings, "floor")
    floor_objects = s5cmd(settings, "rm", f"s3://{settings.r2_bucket_name}/s5cmd-near/*")
    print("bench: DELETE through cliptrail, local servers...", flush=True)
    emptied, gone = asyncio.run(delete_until_gone(settings, seeded.near))
    floor = f"s5cmd rm {floor_objects:.2f} s + raw delete_many {floor_records:.2f} s"
    what = f"delete {len(seeded.suffixes):,} objects: DELETE → empty prefix, records gone"
    note = f"prefix empty after {emptied:.2f} s"
    return [Row(what, gone, "s", floor, floor_objects + floor_records, note=note)]


def far_rows(settings: Settings, stack: Stack, seeded: Seeded, scale: Scale) -> list[Row]:
    what = f"delete {len(seeded.suffixes):,} objects, {RTT * 1000:.0f} ms RTT"
    with latency_proxy(settings) as proxy:
        stack.restart("services.storage.main", far_settings := _through(settings, proxy))
        asyncio.run(wait_services(settings))
        bucket = f"s3://{settings.r2_bucket_name}"
        theirs = s5cmd(settings, "rm", f"{bucket}/s5cmd-far/*", endpoint=proxy)
        sample = [f"naive/{s}" for s in random.sample(seeded.suffixes, scale.naive_sample)]
        naive = asyncio.run(naive_delete(far_settings, sample)) * len(seeded.suffixes) / len(sample)
        print(f"bench: DELETE through cliptrail, {RTT * 1000:.0f} ms RTT...", flush=True)
        emptied, gone = asyncio.run(delete_until_gone(settings, seeded.far))
    sampled = f"{len(sample)} random keys timed, scaled to all"
    return [
        Row(f"{what}: DELETE → empty prefix", emptied, "s", "s5cmd rm, same proxy", theirs,
            at_most=1.2, note=f"records gone after {gone:.2f} s"),
        Row(f"{what}: one DeleteObject per key", naive, "s", "cliptrail DELETE → empty prefix",
            emptied, at_least=50, note=sampled),
    ]  # fmt: skip


def _through(settings: Settings, proxy: str) -> Settings:
    return settings.model_copy(update={"r2_endpoint_url": proxy})


def run(scale: Scale) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-delete-") as temp:
        root = Path(temp)
        settings = bench_settings(root)
        with system(settings, root) as stack:
            asyncio.run(wait_services(settings))
            seeded = seed(settings, root, scale)
            return near_rows(settings, seeded) + far_rows(settings, stack, seeded, scale)
