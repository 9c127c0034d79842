"""Each user's catalog lives in R2: restores from the bucket, no lost update between two
instances (against moto, which answers 412 like R2), no 2xx without the bucket, damaged remote
databases refused, older schemas migrated."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from libs.settings import Settings
from libs.storage.s3 import s3_client
from services.ingest.catalog_db import MIGRATIONS, SCHEMA_VERSION
from tests.s3proxy import FaultPlan, s3_proxy
from tests.support import bearer, create_project, ingest, stack, storage, upload

DB = "users/alice/database.sqlite"


async def listing(http: ClientSession, base: str, headers: dict[str, str]) -> Any:
    async with http.get(f"{base}/api/v1/projects", headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_a_deleted_cache_is_restored_from_the_bucket(
    settings: Settings, bucket: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with stack(settings) as base:
        for _ in range(3):
            project = await create_project(http, base, alice)
        await upload(http, base, alice, project, small_video)
        before = await listing(http, base, alice)
        async with http.get(f"{base}/api/v1/projects/{project}", headers=alice) as response:
            detail = await response.json()
    shutil.rmtree(settings.scratch_dir("ingest"))
    async with stack(settings) as base:
        assert await listing(http, base, alice) == before
        async with http.get(f"{base}/api/v1/projects/{project}", headers=alice) as response:
            assert (await response.json())["videos"][0]["video_id"] == detail["videos"][0][
                "video_id"
            ]
    head = await bucket.head(DB)
    assert int(head.metadata["db-version"]) >= 4  # three projects and an upload, at least


@contextlib.asynccontextmanager
async def two_instances(settings: Settings, root: Path) -> AsyncIterator[tuple[str, str]]:
    """Two ingest instances with scratch (and catalog caches) of their own, one storage."""
    first = settings.model_copy(update={"data_dir": root / "a"})
    second = settings.model_copy(update={"data_dir": root / "b"})
    async with storage(first), ingest(first) as one, ingest(second) as other:
        yield one, other


async def test_two_instances_writing_for_one_user_lose_nothing(
    settings: Settings, moto_url: str, http: ClientSession, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"r2_endpoint_url": moto_url, "r2_region": "us-east-1"})
    async with s3_client(settings) as s3:
        await s3.create_bucket(Bucket=settings.r2_bucket_name)
    alice = bearer(settings, "alice")
    async with two_instances(settings, tmp_path) as (one, other):
        for _ in range(25):
            await asyncio.gather(
                create_project(http, one, alice), create_project(http, other, alice)
            )
    # What the bucket holds, read by a third instance with an empty cache (the others may
    # answer from a HEAD cached for a moment).
    fresh = settings.model_copy(update={"data_dir": tmp_path / "fresh"})
    async with storage(fresh), ingest(fresh) as third:
        projects = (await listing(http, third, alice))["projects"]
    assert len(projects) == 50


async def test_no_2xx_when_the_new_version_cannot_be_stored(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    alice = bearer(settings, "alice")
    async with s3_client(settings) as raw:
        plan = FaultPlan()
        async with s3_proxy(settings.r2_endpoint_url, plan, raw) as proxy:
            proxied = settings.model_copy(update={"r2_endpoint_url": proxy})
            async with storage(proxied), ingest(proxied) as base:
                kept = await create_project(http, base, alice)
                plan.fail_puts_of = "database.sqlite"
                async with http.post(
                    f"{base}/api/v1/projects", json={"name": "lost"}, headers=alice
                ) as response:
                    assert response.status == 503
                    assert response.content_type == "application/problem+json"
                plan.fail_puts_of = ""
                names = [p["name"] for p in (await listing(http, base, alice))["projects"]]
                assert names == ["demo"]
                await create_project(http, base, alice)
                projects = (await listing(http, base, alice))["projects"]
    assert projects[0]["project_id"] == kept and len(projects) == 2


async def test_a_damaged_remote_catalog_is_refused_for_that_user_only(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    async with s3_client(settings) as s3:
        await s3.put_object(
            Bucket=settings.r2_bucket_name, Key=DB, Body=b"not a database" * 100,
            Metadata={"db-version": "7"},
        )  # fmt: skip
    async with storage(settings), ingest(settings) as base:
        for method, path in (("GET", "/api/v1/projects"), ("POST", "/api/v1/projects")):
            async with http.request(
                method, base + path, json={"name": "x"}, headers=bearer(settings, "alice")
            ) as response:
                assert response.status == 503
                assert "damaged" in (await response.json())["detail"]
        await create_project(http, base, bearer(settings, "bob"))
    async with s3_client(settings) as s3:
        remote = await s3.get_object(Bucket=settings.r2_bucket_name, Key=DB)
        assert await remote["Body"].read() == b"not a database" * 100  # never overwritten


async def test_an_older_schema_is_migrated_and_stored_as_the_next_version(
    settings: Settings, bucket: Any, http: ClientSession, tmp_path: Path
) -> None:
    old = tmp_path / "v1.sqlite"
    with closing(sqlite3.connect(old)) as db, db:
        db.executescript(MIGRATIONS[0])
        db.execute("INSERT INTO projects VALUES ('p-old', 'From v1', '2026-01-01T00:00:00Z')")
        db.execute("PRAGMA user_version=1")
    async with s3_client(settings) as s3:
        await s3.put_object(
            Bucket=settings.r2_bucket_name, Key=DB, Body=old.read_bytes(),
            Metadata={"db-version": "3"},
        )  # fmt: skip
    async with storage(settings), ingest(settings) as base:
        projects = (await listing(http, base, bearer(settings, "alice")))["projects"]
    assert [p["project_id"] for p in projects] == ["p-old"]
    head = await bucket.head(DB)
    assert head.metadata["db-version"] == "4"
    async with s3_client(settings) as s3:
        migrated = await (await s3.get_object(Bucket=settings.r2_bucket_name, Key=DB))[
            "Body"
        ].read()
    (tmp_path / "v2.sqlite").write_bytes(migrated)
    with closing(sqlite3.connect(tmp_path / "v2.sqlite")) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_a_new_users_first_requests_at_once_all_succeed(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    """The first call creates the user's catalog: many at once must not race to create it."""
    for sync in (False, True):
        isolated = settings.model_copy(update={"catalog_sync": sync, "rate_per_second": 0})
        async with stack(isolated) as base:
            user = bearer(isolated, f"new-{sync}".lower())
            answers = await asyncio.gather(*(_status(http, base, user) for _ in range(24)))
            assert answers == [200] * 24


async def _status(http: ClientSession, base: str, headers: dict[str, str]) -> int:
    async with http.get(f"{base}/api/v1/projects", headers=headers) as response:
        return response.status
