"""ProjectCleaner on the fakes: tracked keys first, the prefix scan after, neighbours untouched."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from libs.storage.objects import FileRecord
from services.tracking.cleanup import ProjectCleaner
from tests.unit.fakes import FakeBucketAndLedger, fake_record, fake_storage

WHEN = datetime(2026, 1, 1, tzinfo=UTC)
P1 = "users/alice/projects/p1/"
TRACKED = [
    f"{P1}videos/v1/source.mp4",
    f"{P1}videos/v1/highlights.json",
    f"{P1}videos/v1/clips/clip_01_01_goal_original.mp4",
    f"{P1}videos/v2/source.mov",
]
UNTRACKED = f"{P1}videos/v3/source.mp4"
NEIGHBOURS = [
    "users/alice/projects/p10/videos/v1/source.mp4",
    "users/alice/database.sqlite",
    "users/bob/projects/p2/videos/v1/source.mp4",
]
UNTRACKED_NEIGHBOUR = "users/alice/projects/p10/videos/v9/source.mp4"


class Fixture(FakeBucketAndLedger):
    """The fake bucket and ledger, and a cleaner that reaches storage over the fake bus."""

    async def cleaner(self) -> ProjectCleaner:
        return ProjectCleaner(self.records, await fake_storage(self.store))

    async def put(self, key: str, tracked: bool = True) -> None:
        body = await self.put_object(key, "application/octet-stream")
        if tracked:
            await self.records.upsert_many([record_of(key, body)])

    def state(self) -> tuple[list[str], list[str]]:
        return sorted(self.store.objects), sorted(self.records.records)


def record_of(key: str, body: bytes) -> FileRecord:
    etag = hashlib.md5(body).hexdigest()
    return fake_record(key, len(body), etag, "application/octet-stream", WHEN)


@pytest.fixture
async def world(tmp_path: Path) -> Fixture:
    """Project p1 of alice with tracked objects and one untracked, and its neighbours."""
    fixture = Fixture()
    for key in TRACKED + NEIGHBOURS:
        await fixture.put(key)
    await fixture.put(UNTRACKED, tracked=False)
    await fixture.put(UNTRACKED_NEIGHBOUR, tracked=False)
    return fixture


async def test_tracked_and_untracked_objects_go_with_their_records(world: Fixture) -> None:
    report = await (await world.cleaner()).clean("alice", "p1")
    assert (report.tracked_keys, report.fallback_keys) == (len(TRACKED), 1)
    assert (report.deleted_objects, report.deleted_records) == (len(TRACKED) + 1, len(TRACKED))
    assert (report.untracked, report.failed) == ([UNTRACKED], [])
    assert await world.records.by_project("p1") == []
    assert not any(key.startswith(P1) for key in world.store.objects)


async def test_neighbours_are_untouched(world: Fixture) -> None:
    await (await world.cleaner()).clean("alice", "p1")
    neighbours = sorted([*NEIGHBOURS, UNTRACKED_NEIGHBOUR])
    assert world.state() == (neighbours, sorted(NEIGHBOURS))


async def test_a_tracked_key_without_an_object_loses_its_record(world: Fixture) -> None:
    gone = TRACKED[0]
    await world.store.delete_many([gone])
    report = await (await world.cleaner()).clean("alice", "p1")
    assert report.failed == []
    assert await world.records.get(gone) is None


async def test_a_failed_delete_keeps_its_record_and_object(world: Fixture) -> None:
    failing = TRACKED[1]
    world.store.failing_keys.add(failing)
    report = await (await world.cleaner()).clean("alice", "p1")
    assert report.failed == [{"key": failing, "error": "InternalError: injected"}]
    assert [r.object_key for r in await world.records.by_project("p1")] == [failing]
    assert [key for key in world.store.objects if key.startswith(P1)] == [failing]
    assert report.untracked == [UNTRACKED]
    assert report.deleted_records == len(TRACKED) - 1


async def test_a_retry_after_a_failure_finishes_the_job(world: Fixture) -> None:
    world.store.failing_keys.add(TRACKED[1])
    await (await world.cleaner()).clean("alice", "p1")
    world.store.failing_keys.clear()
    report = await (await world.cleaner()).clean("alice", "p1")
    assert (report.tracked_keys, report.deleted_records, report.failed) == (1, 1, [])
    assert world.state() == (sorted([*NEIGHBOURS, UNTRACKED_NEIGHBOUR]), sorted(NEIGHBOURS))


async def test_a_dry_run_changes_nothing_and_names_the_keys(world: Fixture) -> None:
    before = world.state()
    report = await (await world.cleaner()).clean("alice", "p1", dry_run=True)
    assert world.state() == before
    body = report.as_dict()
    assert body["keys"] == {"tracked": sorted(TRACKED), "fallback": [UNTRACKED]}
    assert (body["tracked_keys"], body["fallback_keys"]) == (len(TRACKED), 1)
    assert (body["deleted_objects"], body["deleted_records"], body["failed"]) == (0, 0, [])


async def test_a_real_run_reports_no_key_lists(world: Fixture) -> None:
    body = (await (await world.cleaner()).clean("alice", "p1")).as_dict()
    assert "keys" not in body
    assert (body["dry_run"], body["delete_records_only"]) == (False, False)


async def test_records_only_drops_records_and_keeps_objects(world: Fixture) -> None:
    objects_before = sorted(world.store.objects)
    report = await (await world.cleaner()).clean("alice", "p1", records_only=True)
    assert (report.deleted_records, report.deleted_objects) == (len(TRACKED), 0)
    assert (report.fallback_keys, report.untracked) == (0, [])
    assert world.state() == (objects_before, sorted(NEIGHBOURS))


async def test_cleaning_twice_ends_in_the_same_state(world: Fixture) -> None:
    cleaner = await world.cleaner()
    await cleaner.clean("alice", "p1")
    after_first = world.state()
    again = await cleaner.clean("alice", "p1")
    assert world.state() == after_first
    assert (again.tracked_keys, again.fallback_keys, again.deleted_objects) == (0, 0, 0)
    assert (again.deleted_records, again.failed, again.untracked) == (0, [], [])


async def test_a_project_larger_than_a_page_is_cleaned_whole(tmp_path: Path) -> None:
    fixture = Fixture()
    keys = [f"{P1}videos/v{n:04d}/source.mp4" for n in range(2100)]
    for key in keys:
        await fixture.put(key, tracked=not key.endswith(("7/source.mp4", "9/source.mp4")))
    report = await (await fixture.cleaner()).clean("alice", "p1")
    assert (report.tracked_keys, report.fallback_keys) == (1680, 420)
    assert (report.deleted_objects, report.deleted_records) == (2100, 1680)
    assert fixture.state() == ([], [])


async def test_the_bucket_empties_while_record_deletions_are_held_back(tmp_path: Path) -> None:
    """The database may be slow to delete records; object deletions must not wait for it."""
    fixture = Fixture()
    for n in range(2100):
        await fixture.put(f"{P1}videos/v{n:04d}/source.mp4")
    released = asyncio.Event()
    delete_keys = fixture.records.delete_keys

    async def held_back(keys: Sequence[str]) -> int:
        await released.wait()
        return await delete_keys(keys)

    fixture.records.delete_keys = held_back  # type: ignore[method-assign]
    storage = await fake_storage(fixture.store)
    cleaning = asyncio.create_task(
        ProjectCleaner(fixture.records, storage, 1, 1).clean("alice", "p1")
    )
    async with asyncio.timeout(30):  # a cleaner that waits for the records never gets there
        while fixture.store.objects:
            await asyncio.sleep(0.01)
    released.set()
    report = await cleaning
    assert (report.deleted_objects, report.deleted_records) == (2100, 2100)
    assert fixture.state() == ([], [])
