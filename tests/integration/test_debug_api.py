"""The admin routes and CLI: ledger pages, cleanup by hand, reconcile, usage, quotas."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from libs.settings import Settings
from libs.storage.s3 import s3_client
from tests.support import (
    MEDIA,
    bearer,
    create_project,
    eventually,
    leftovers,
    plant,
    seed_video_outputs,
    settings_env,
    stack,
    upload,
)


async def _count_is(collection: Any, count: int) -> bool:
    return await collection.count_documents(MEDIA) == count


async def seeded(
    settings: Settings, http: ClientSession, base: str, video: Path, records: Any
) -> tuple[str, str]:
    """A project of alice's with a source, a clip, a thumbnail and highlights.json."""
    alice = bearer(settings, "alice")
    project = await create_project(http, base, alice)
    video_id = (await upload(http, base, alice, project, video))["video_id"]
    await seed_video_outputs(settings, "alice", project, video_id)
    await eventually(lambda: _count_is(records, 4))
    return project, video_id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/debug/r2-file-paths/p1"),
        ("POST", "/api/v1/debug/cleanup-project/p1"),
        ("POST", "/api/v1/debug/reconcile"),
        ("GET", "/api/v1/debug/storage-usage"),
    ],
)
async def test_debug_routes_are_for_admins_only(
    settings: Settings, bucket: Any, http: ClientSession, method: str, path: str
) -> None:
    async with stack(settings) as base:
        async with http.request(method, base + path, headers=bearer(settings, "alice")) as r:
            assert r.status == 403
            assert r.content_type == "application/problem+json"
        async with http.request(method, base + path) as response:
            assert response.status == 401


async def test_file_paths_are_paginated_with_a_count(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    admin = bearer(settings, "root", admin=True)
    async with stack(settings) as base:
        project, _ = await seeded(settings, http, base, small_video, records_collection)
        keys: list[str] = []
        cursor = ""
        while True:
            url = f"{base}/api/v1/debug/r2-file-paths/{project}?limit=3&cursor={cursor}"
            async with http.get(url, headers=admin) as response:
                page = await response.json()
            assert page["count"] == 4 and len(page["paths"]) <= 3
            keys += [record["object_key"] for record in page["paths"]]
            if not page["next_cursor"]:
                break
            cursor = page["next_cursor"]
    assert keys == sorted(keys) and len(set(keys)) == 4


async def test_cleanup_by_hand_dry_run_records_only_and_real(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    admin = bearer(settings, "root", admin=True)
    async with stack(settings) as base:
        project, video = await seeded(settings, http, base, small_video, records_collection)
        prefix = f"users/alice/projects/{project}/"
        stray = f"{prefix}videos/{video}/stray.bin"
        await plant(bucket, stray, small_video, "application/octet-stream")
        url = f"{base}/api/v1/debug/cleanup-project/{project}"
        async with http.post(url, headers=admin) as response:
            dry = await response.json()
        assert dry["dry_run"] is True and dry["tracked_keys"] == 4 and dry["fallback_keys"] == 1
        assert dry["keys"]["fallback"] == [stray] and len(dry["keys"]["tracked"]) == 4
        assert await records_collection.count_documents(MEDIA) == 4
        assert await bucket.head(stray) is not None

        async with http.post(f"{url}?dry_run=false&delete_records_only=true", headers=admin) as r:
            assert (await r.json())["deleted_records"] == 4
        assert await records_collection.count_documents(MEDIA) == 0
        assert len((await bucket.list_page(prefix, None, 100)).entries) == 5

        async with http.post(f"{url}?dry_run=false&user_id=alice", headers=admin) as response:
            real = await response.json()
        assert (real["fallback_keys"], real["deleted_objects"], real["failed"]) == (5, 5, [])
        assert (await bucket.list_page(prefix, None, 100)).entries == []


async def test_cleanup_of_an_unknown_project_is_404(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    async with stack(settings) as base:
        url = f"{base}/api/v1/debug/cleanup-project/nobody-knows"
        async with http.post(url, headers=bearer(settings, "root", admin=True)) as response:
            assert response.status == 404


async def test_reconcile_reports_each_drift_exactly_and_fixes_it(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    settings = settings.model_copy(update={"reconcile_grace_seconds": 0.0})
    admin = bearer(settings, "root", admin=True)
    async with stack(settings) as base:
        project, video = await seeded(settings, http, base, small_video, records_collection)
        prefix = f"users/alice/projects/{project}/videos/{video}/"
        orphan = f"users/alice/projects/{project}/videos/old/source.mp4"  # predates the ledger
        junk = "junk/left-behind.bin"
        await plant(bucket, orphan, small_video, "video/mp4")
        await plant(bucket, junk, small_video, "application/octet-stream")
        missing = await _delete_behind_the_ledger(settings, prefix + "highlights.json")
        mismatched = await _corrupt_size(records_collection, prefix + "source.mp4")

        report = await _reconcile(http, base, admin, dry_run=True)
        assert [entry["key"] for entry in report["untracked"]] == [junk, orphan]
        assert report["missing"] == [missing]
        assert [entry["key"] for entry in report["mismatched"]] == [mismatched]

        fixed = await _reconcile(http, base, admin, dry_run=False)
        # Storage deletes only cliptrail's keys: the junk outside the layout is refused, kept.
        assert (fixed["backfilled"], fixed["deleted_objects"]) == (1, 0)
        assert [failure["key"] for failure in fixed["failed"]] == [junk]
        assert (fixed["removed_records"], fixed["updated_records"]) == (1, 1)
        assert await bucket.head(junk) is not None
        backfilled = await records_collection.find_one({"object_key": orphan})
        assert backfilled["file_type"] == "source" and backfilled["content_type"] == "video/mp4"

        clean = await _reconcile(http, base, admin, dry_run=True)
        assert clean["counts"] == {"untracked": 1, "missing": 0, "mismatched": 0}


async def _reconcile(http: ClientSession, base: str, admin: dict[str, str], dry_run: bool) -> Any:
    url = f"{base}/api/v1/debug/reconcile?dry_run={str(dry_run).lower()}"
    async with http.post(url, headers=admin) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def _delete_behind_the_ledger(settings: Settings, key: str) -> str:
    """A record whose object is gone: delete the object without storage knowing."""
    async with s3_client(settings) as s3:
        await s3.delete_object(Bucket=settings.r2_bucket_name, Key=key)
    return key


async def _corrupt_size(records: Any, key: str) -> str:
    await records.update_one({"object_key": key}, {"$set": {"size_bytes": 1}})
    return key


async def test_storage_usage_by_user_and_by_project(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    admin = bearer(settings, "root", admin=True)
    async with stack(settings) as base:
        project, _ = await seeded(settings, http, base, small_video, records_collection)
        await eventually(lambda: records_collection.find_one({"file_type": "database"}))
        media = [doc["size_bytes"] async for doc in records_collection.find(MEDIA)]
        everything = [doc["size_bytes"] async for doc in records_collection.find()]
        url = f"{base}/api/v1/debug/storage-usage"
        async with http.get(url, headers=admin) as response:
            by_user = await response.json()
        async with http.get(f"{url}?group_by=project", headers=admin) as response:
            by_project = await response.json()
        async with http.get(f"{url}?group_by=video", headers=admin) as response:
            assert response.status == 422
    assert by_user["usage"] == [
        {"user_id": "alice", "project_id": None, "bytes": sum(everything), "objects": 5}
    ]
    assert by_project["usage"] == [
        {"user_id": "alice", "project_id": project, "bytes": sum(media), "objects": 4}
    ]


async def test_an_upload_over_quota_is_413_with_usage(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    size = small_video.stat().st_size
    settings = settings.model_copy(update={"user_quota_bytes": size + size // 2})
    alice = bearer(settings, "alice")
    async with stack(settings) as base:
        project = await create_project(http, base, alice)
        first = await upload(http, base, alice, project, small_video)
        await eventually(lambda: _count_is(records_collection, 1))
        url = f"{base}/api/v1/projects/{project}/videos"
        async with http.post(url, data=small_video.read_bytes(), headers=alice) as response:
            assert response.status == 413
            body = await response.json()
    used = sum([doc["size_bytes"] async for doc in records_collection.find()])
    assert (body["used_bytes"], body["quota_bytes"]) == (used, size + size // 2)
    assert used > size  # the source and the user's catalog
    assert await leftovers(settings) == [first["r2_key"]]  # the refused one left nothing


async def test_cli_shares_the_endpoints_code(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    async with stack(settings) as base:
        project, _ = await seeded(settings, http, base, small_video, records_collection)
        usage = await _cli(settings, "usage", "--group-by", "project")
        assert [row["project_id"] for row in usage] == [project]
        dry = await _cli(settings, "cleanup-project", project)
        assert dry["dry_run"] is True and dry["tracked_keys"] == 4
        applied = await _cli(settings, "cleanup-project", project, "--apply")
        assert applied["deleted_objects"] == 4
        reconcile = await _cli(settings, "reconcile")
        assert reconcile["counts"] == {"untracked": 0, "missing": 0, "mismatched": 0}
    assert await records_collection.count_documents(MEDIA) == 0


async def _cli(settings: Settings, *args: str) -> Any:
    env = {**os.environ, **settings_env(settings)}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.tracking.cli", *args],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)
