"""Deleting a project removes exactly its objects and records, whatever crashes in between."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from yarl import URL

from libs.settings import Settings
from libs.storage.keys import database_key
from libs.storage.s3 import s3_client
from tests.integration.render.support import render
from tests.s3proxy import FaultPlan, s3_proxy
from tests.support import (
    MEDIA,
    bearer,
    create_project,
    eventually,
    make_video,
    plant,
    seed_video_outputs,
    spawn,
    stack,
    upload,
)


async def keys_under(bucket: Any, prefix: str) -> list[str]:
    page = await bucket.list_page(prefix, None, 1000)
    return [entry.key for entry in page.entries]


async def recorded(collection: Any, prefix: str) -> list[str]:
    query = {"object_key": {"$regex": f"^{prefix}"}}
    return sorted([doc["object_key"] async for doc in collection.find(query)])


async def test_delete_removes_exactly_the_project_and_nothing_else(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    alice, bob = bearer(settings, "alice"), bearer(settings, "bob")
    async with stack(settings) as base:
        project = await create_project(http, base, alice)
        other = await create_project(http, base, alice)
        bobs = await create_project(http, base, bob)
        video = (await upload(http, base, alice, project, small_video))["video_id"]
        await upload(http, base, alice, other, small_video)
        await upload(http, base, bob, bobs, small_video)
        await seed_video_outputs(settings, "alice", project, video)
        neighbour = project + "0"  # shares the project's id as a prefix
        kept = await seed_video_outputs(settings, "alice", neighbour, "v1")
        prefix = f"users/alice/projects/{project}/"
        planted = f"{prefix}videos/{video}/stray.tmp"
        await plant(bucket, planted, small_video, "application/octet-stream")
        await eventually(lambda: _count_is(records_collection, 9))
        before = sorted([d["object_key"] async for d in records_collection.find(MEDIA)])

        async with http.delete(f"{base}/api/v1/projects/{project}", headers=alice) as response:
            assert response.status == 204
        async with http.get(f"{base}/api/v1/projects/{project}", headers=alice) as response:
            assert response.status == 404
        async with http.get(f"{base}/api/v1/projects", headers=alice) as response:
            listed = [p["project_id"] for p in (await response.json())["projects"]]
        assert listed == [other]

        await eventually(lambda: _empty(bucket, records_collection, prefix))
        tombstone = await eventually(lambda: _report(records_collection, project))
    after = sorted([d["object_key"] async for d in records_collection.find(MEDIA)])
    assert after == [key for key in before if not key.startswith(prefix)]
    assert all(k in after for k in kept)
    assert await records_collection.find_one({"object_key": database_key("alice")})
    assert await bucket.head(database_key("alice")) is not None
    assert tombstone["report"]["untracked"] == [planted]
    assert tombstone["report"]["fallback_keys"] == 1
    assert tombstone["report"]["tracked_keys"] == 4
    for key in after:
        assert await bucket.head(key) is not None


async def _count_is(collection: Any, count: int) -> bool:
    return await collection.count_documents(MEDIA) == count


async def _empty(bucket: Any, collection: Any, prefix: str) -> bool:
    return not await keys_under(bucket, prefix) and not await recorded(collection, prefix)


async def _report(collection: Any, project: str) -> dict[str, Any] | None:
    tombstones = collection.database["deleted_projects"]
    found: dict[str, Any] | None = await tombstones.find_one(
        {"project_id": project, "report": {"$ne": None}}
    )
    return found


async def test_a_failing_key_is_retried_and_reported(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with s3_client(settings) as raw_s3:
        plan = FaultPlan()
        async with s3_proxy(settings.r2_endpoint_url, plan, raw_s3) as proxy:
            proxied = settings.model_copy(update={"r2_endpoint_url": proxy})
            async with stack(proxied) as base:
                project = await create_project(http, base, alice)
                key = (await upload(http, base, alice, project, small_video))["r2_key"]
                await eventually(lambda: records_collection.find_one({"object_key": key}))
                plan.fail_key, plan.failures_left = key, 2
                async with http.delete(f"{base}/api/v1/projects/{project}", headers=alice) as r:
                    assert r.status == 204
                failing = await eventually(lambda: _failed_report(records_collection, project))
                assert failing["report"]["failed"][0]["key"] == key
                assert await records_collection.find_one({"object_key": key}) is not None
                prefix = f"users/alice/projects/{project}/"
                await eventually(lambda: _empty(bucket, records_collection, prefix))
    assert plan.failures_served == 2


async def _failed_report(collection: Any, project: str) -> dict[str, Any] | None:
    found = await _report(collection, project)
    return found if found and found["report"]["failed"] else None


async def test_tracking_killed_mid_cleanup_finishes_after_restart(
    settings: Settings,
    bucket: Any,
    records_collection: Any,
    http: ClientSession,
    small_video: Path,
    tmp_path: Path,
) -> None:
    alice = bearer(settings, "alice")
    async with s3_client(settings) as raw_s3:
        plan = FaultPlan()
        async with s3_proxy(settings.r2_endpoint_url, plan, raw_s3) as proxy:
            proxied = settings.model_copy(update={"r2_endpoint_url": proxy})
            async with stack(proxied, with_tracking=False) as base:
                process = spawn("services.tracking.main", proxied, tmp_path / "tracking.log")
                project = await create_project(http, base, alice)
                video = (await upload(http, base, alice, project, small_video))["video_id"]
                await seed_video_outputs(proxied, "alice", project, video)
                await eventually(lambda: _count_is(records_collection, 4))
                plan.stall_seconds = 2.0
                async with http.delete(f"{base}/api/v1/projects/{project}", headers=alice) as r:
                    assert r.status == 204
                await asyncio.wait_for(plan.delete_seen.wait(), 30)
                process.send_signal(signal.SIGKILL)
                process.wait()
                assert await records_collection.count_documents(MEDIA) == 4  # killed mid-way
                plan.stall_seconds = 0.0
                restarted = spawn("services.tracking.main", proxied, tmp_path / "tracking.log")
                try:
                    prefix = f"users/alice/projects/{project}/"
                    await eventually(lambda: _empty(bucket, records_collection, prefix), timeout=60)
                finally:
                    restarted.terminate()
                    restarted.wait(10)


async def test_objects_arriving_after_the_delete_are_removed_too(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with stack(settings) as base:
        project = await create_project(http, base, alice)
        video = (await upload(http, base, alice, project, small_video))["video_id"]
        async with http.delete(f"{base}/api/v1/projects/{project}", headers=alice) as response:
            assert response.status == 204
        await eventually(lambda: _report(records_collection, project))
        late = await seed_video_outputs(
            settings, "alice", project, video
        )  # a render finishing late
        prefix = f"users/alice/projects/{project}/"
        await eventually(lambda: _empty(bucket, records_collection, prefix))
        await asyncio.sleep(0.5)
        for key in late:
            assert await bucket.head(key) is None
        assert await recorded(records_collection, prefix) == []


async def test_delete_of_another_users_project_is_404(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    async with stack(settings) as base:
        project = await create_project(http, base, bearer(settings, "alice"))
        url = URL(f"{base}/api/v1/projects/{project}")
        async with http.delete(url, headers=bearer(settings, "mallory")) as response:
            assert response.status == 404
        async with http.get(url, headers=bearer(settings, "alice")) as response:
            assert response.status == 200


async def test_deleting_a_project_while_its_render_runs_leaves_nothing(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"render_preset": "ultrafast"})
    video = make_video(tmp_path / "long.mp4", seconds=12.0, size="640x360")
    highlights = [
        {"start": s, "end": s + 3, "title": f"Part {n}", "styles": ["original", "vertical"]}
        for n, s in enumerate((0, 4, 8), start=1)
    ]
    alice = bearer(settings, "alice")
    async with stack(settings) as base, render(settings):
        project = await create_project(http, base, alice)
        form = {"file": video.open("rb"), "highlights": json.dumps(highlights)}
        url = f"{base}/api/v1/projects/{project}/videos"
        async with http.post(url, data=form, headers=alice) as response:
            video_id = (await response.json())["video_id"]
        await eventually(lambda: _video_status(http, base, alice, project, video_id, "rendering"))
        async with http.delete(f"{base}/api/v1/projects/{project}", headers=alice) as response:
            assert response.status == 204
        prefix = f"users/alice/projects/{project}/"
        await eventually(lambda: _render_working(settings))
        await eventually(lambda: _render_finished(settings), timeout=60)
        await eventually(lambda: _empty(bucket, records_collection, prefix), timeout=60)
        await asyncio.sleep(1.0)  # nothing comes back late
        assert await _empty(bucket, records_collection, prefix)


async def _video_status(
    http: ClientSession, base: str, headers: dict[str, str], project: str, video: str, status: str
) -> bool:
    url = f"{base}/api/v1/projects/{project}/videos/{video}"
    async with http.get(url, headers=headers) as response:
        return response.status == 200 and (await response.json())["status"] == status


async def _render_working(settings: Settings) -> bool:
    work = settings.scratch_dir("render") / "render"
    return work.exists() and any(work.iterdir())


async def _render_finished(settings: Settings) -> bool:
    """Render announced a terminal status (its work dir is gone once it has)."""
    work = settings.scratch_dir("render") / "render"
    return not work.exists() or not any(work.iterdir())
