"""Catalog: what its durability costs. Write requests per second for one user with the sync to
R2 on, next to the same requests with it off, and the time to restore a user's catalog of 1,000
projects from the bucket into a cold cache.

Before timing, each ingest must have created a project: ingest's /healthz answers before
storage does, and a first request finding no storage responder would get a 503.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path

import aiohttp

from deploy.servers import free_port
from libs.settings import Settings
from libs.storage.s3 import s3_client
from services.ingest.catalog_db import MIGRATIONS, SCHEMA_VERSION
from tests.bench.common import Row, Scale, bearer, bench_settings, create_project, system

WRITES = 200
PROJECTS = 1000


async def writes_per_second(settings: Settings, user: str) -> float:
    base = f"http://127.0.0.1:{settings.http_port}"
    headers = bearer(settings, user)
    await create_project(settings, user, "warm-up")
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        for n in range(WRITES):
            async with http.post(
                f"{base}/api/v1/projects", json={"name": f"p{n}"}, headers=headers
            ) as r:
                assert r.status == 201, await r.text()
        return WRITES / (time.perf_counter() - started)


def big_catalog(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as db, db:
        for script in MIGRATIONS:
            db.executescript(script)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        rows = [
            (f"p{n:04d}", f"Project {n}", "2026-11-21T00:00:00Z", None) for n in range(PROJECTS)
        ]
        db.executemany("INSERT INTO projects VALUES (?,?,?,?)", rows)
    return path


async def restore_seconds(settings: Settings, catalog: Path) -> float:
    async with s3_client(settings) as s3:
        await s3.put_object(
            Bucket=settings.r2_bucket_name, Key="users/big/database.sqlite",
            Body=catalog.read_bytes(), Metadata={"db-version": "1"},
        )  # fmt: skip
    base = f"http://127.0.0.1:{settings.http_port}"
    headers = bearer(settings, "big")
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        async with http.get(f"{base}/api/v1/projects", headers=headers) as response:
            assert len((await response.json())["projects"]) == PROJECTS
        return time.perf_counter() - started


def run(scale: Scale) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-catalog-") as temp:
        root = Path(temp)
        settings = bench_settings(root)
        unsynced = settings.model_copy(
            update={"http_port": free_port(), "data_dir": root / "off", "catalog_sync": False}
        )
        with system(settings, root) as stack:
            stack.start("services.ingest.main", unsynced, name="ingest, sync off")
            synced_rate = asyncio.run(writes_per_second(settings, "writer"))
            local_rate = asyncio.run(writes_per_second(unsynced, "writer"))
            restore = asyncio.run(restore_seconds(settings, big_catalog(root / "big.sqlite")))
    return [
        Row(f"catalog: {WRITES} project creations, sync to R2 on", synced_rate, "requests/s",
            "the same, sync off", local_rate),
        Row(f"catalog: restore {PROJECTS:,} projects into a cold cache", restore * 1000, "ms"),
    ]  # fmt: skip
