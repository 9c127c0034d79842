"""Reconciler on the fakes: untracked, missing and mismatched found exactly, then repaired."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from libs.storage.objects import FileRecord
from libs.storage.objectstore import ListPage, MemoryObjectStore
from libs.storage.records import Tombstone
from services.tracking.reconcile import Reconciler, ReconcileReport
from tests.unit.fakes import FakeBucketAndLedger, fake_record, fake_storage

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
GRACE = 3600.0
OLD = NOW - timedelta(hours=2)
YOUNG = NOW - timedelta(minutes=1)
V = "users/alice/projects/p1/videos"
OK = f"{V}/v1/source.mp4"
UNTRACKED = f"{V}/v2/highlights.json"
MISSING = f"{V}/v3/source.mp4"
MISMATCHED = f"{V}/v4/source.mp4"
# Leftovers inside a project: what storage may delete (it refuses keys outside the layout).
OLD_JUNK, YOUNG_JUNK = "users/a0/projects/gone/old.bin", "users/a0/projects/gone/young.bin"
DELETED_PROJECT = "users/alice/projects/gone/videos/v1/source.mp4"


class Fixture(FakeBucketAndLedger):
    """The fake bucket and ledger; objects get the last-modified time a test asks for."""

    async def reconciler(self) -> Reconciler:
        storage = await fake_storage(self.store)
        return Reconciler(self.records, storage, GRACE, now=lambda: NOW)

    async def run(self, prefix: str = "", dry_run: bool = False) -> ReconcileReport:
        return await (await self.reconciler()).run(prefix, dry_run)

    async def put(self, key: str, when: datetime = OLD, content_type: str = "video/mp4") -> None:
        await self.put_object(key, content_type)
        body, stored = self.store.objects[key]
        self.store.objects[key] = (body, stored.model_copy(update={"last_modified": when}))

    async def track(self, key: str, size: int | None = None, etag: str | None = None) -> None:
        body = key.encode()
        size = len(body) if size is None else size
        etag = etag or hashlib.md5(body).hexdigest()
        await self.records.upsert_many([record_of(key, size, etag)])

    def state(self) -> tuple[list[str], dict[str, FileRecord]]:
        return sorted(self.store.objects), dict(self.records.records)


def record_of(key: str, size: int, etag: str) -> FileRecord:
    return fake_record(key, size, etag, "video/mp4", OLD)


def etag_of(key: str) -> str:
    return hashlib.md5(key.encode()).hexdigest()


async def seed(fixture: Fixture, young: bool = True) -> Fixture:
    await fixture.put(OK)
    await fixture.track(OK)
    await fixture.put(UNTRACKED, when=YOUNG, content_type="application/json")
    await fixture.track(MISSING)
    await fixture.put(MISMATCHED)
    await fixture.track(MISMATCHED, size=1, etag="stale")
    await fixture.put(OLD_JUNK)
    if young:
        await fixture.put(YOUNG_JUNK, when=YOUNG)
    return fixture


class RewrittenAfterListing(MemoryObjectStore):
    """A store where someone uploads new bytes under `key` right after each listing."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    async def list_page(self, prefix: str, token: str | None, max_keys: int) -> ListPage:
        page = await super().list_page(prefix, token, max_keys)
        body = b"rewritten"
        etag = hashlib.md5(body).hexdigest()
        stored = self.objects[self.key][1].model_copy(update={"size": len(body), "etag": etag})
        self.objects[self.key] = (body, stored)
        return page


@pytest.fixture
async def world(tmp_path: Path) -> Fixture:
    return await seed(Fixture())


def counts(report: ReconcileReport) -> tuple[int, int, int]:
    return report.counts["untracked"], report.counts["missing"], report.counts["mismatched"]


async def test_a_dry_run_reports_exactly_and_changes_nothing(world: Fixture) -> None:
    before = world.state()
    report = await world.run(dry_run=True)
    assert world.state() == before
    assert [entry["key"] for entry in report.untracked] == [OLD_JUNK, YOUNG_JUNK, UNTRACKED]
    assert report.missing == [MISSING]
    size = len(MISMATCHED.encode())
    assert report.mismatched == [
        {"key": MISMATCHED, "size": size, "etag": etag_of(MISMATCHED)}
        | {"recorded_size": 1, "recorded_etag": "stale"}
    ]
    assert counts(report) == (3, 1, 1)
    repairs = (report.backfilled, report.removed_records, report.updated_records)
    assert (*repairs, report.deleted_objects, report.kept_young) == (0, 0, 0, 0, 0)


async def test_an_untracked_entry_describes_the_object(world: Fixture) -> None:
    report = await world.run(prefix=f"{V}/v2/", dry_run=True)
    expected = {"key": UNTRACKED, "size": len(UNTRACKED), "etag": etag_of(UNTRACKED)}
    assert report.untracked == [expected | {"last_modified": "2026-01-01T11:59:00Z"}]


async def test_an_untracked_object_with_a_layout_key_is_backfilled(world: Fixture) -> None:
    report = await world.run()
    assert report.backfilled == 1
    assert await world.records.get(UNTRACKED) == FileRecord(
        object_key=UNTRACKED,
        project_id="p1",
        user_id="alice",
        scene_id=None,
        file_type="highlights",
        size_bytes=len(UNTRACKED),
        content_type="application/json",
        metadata={"video_id": "v2", "etag": etag_of(UNTRACKED), "backfilled": "true"},
        created_at=YOUNG,
        updated_at=YOUNG,
    )


async def test_junk_is_deleted_only_once_older_than_the_grace(world: Fixture) -> None:
    report = await world.run()
    assert (report.deleted_objects, report.kept_young, report.failed) == (1, 1, [])
    assert OLD_JUNK not in world.store.objects
    assert YOUNG_JUNK in world.store.objects
    assert await world.records.get(YOUNG_JUNK) is None


async def test_the_record_of_a_missing_object_is_removed(world: Fixture) -> None:
    report = await world.run()
    assert report.removed_records == 1
    assert await world.records.get(MISSING) is None
    assert await world.records.get(OK) is not None


async def test_a_mismatched_record_takes_the_objects_size_and_etag(world: Fixture) -> None:
    report = await world.run()
    assert report.updated_records == 1
    fixed = await world.records.get(MISMATCHED)
    assert fixed is not None
    assert (fixed.size_bytes, fixed.metadata["etag"]) == (len(MISMATCHED), etag_of(MISMATCHED))
    assert (fixed.created_at, fixed.updated_at) == (OLD, NOW)


async def test_late_objects_of_a_deleted_project_are_deleted_not_backfilled(
    tmp_path: Path,
) -> None:
    fixture = Fixture()
    young = DELETED_PROJECT.replace("/v1/", "/v2/")
    await fixture.put(DELETED_PROJECT)
    await fixture.put(young, when=YOUNG)
    tombstone = Tombstone(project_id="gone", user_id="alice", deleted_at=OLD)
    await fixture.records.save_tombstone(tombstone)
    report = await fixture.run()
    assert (report.backfilled, report.deleted_objects, report.kept_young) == (0, 1, 1)
    assert fixture.state() == ([young], {})


async def test_an_object_rewritten_since_the_listing_is_kept(tmp_path: Path) -> None:
    fixture = Fixture()
    fixture.store = RewrittenAfterListing(OLD_JUNK)
    await fixture.put(OLD_JUNK)
    report = await fixture.run()
    assert (report.deleted_objects, report.kept_young) == (0, 1)
    assert OLD_JUNK in fixture.store.objects


async def test_a_prefix_limits_the_walk(world: Fixture) -> None:
    before = world.state()
    report = await world.run(prefix=f"{V}/v3/")
    assert (report.missing, report.untracked, report.mismatched) == ([MISSING], [], [])
    after = world.state()
    assert after[0] == before[0]
    assert set(before[1]) - set(after[1]) == {MISSING}


async def test_a_second_dry_run_after_repair_reports_nothing(tmp_path: Path) -> None:
    fixture = await seed(Fixture(), young=False)
    await fixture.run()
    report = await fixture.run(dry_run=True)
    assert counts(report) == (0, 0, 0)
    assert (report.untracked, report.missing, report.mismatched) == ([], [], [])


async def test_a_walk_across_pages_finds_each_difference(tmp_path: Path) -> None:
    fixture = Fixture()
    keys = [f"{V}/v{n:04d}/source.mp4" for n in range(2300)]
    for n, key in enumerate(keys):
        if n != 1500:
            await fixture.put(key)
        if n != 1100:
            await fixture.track(key)
    report = await fixture.run(dry_run=True)
    assert [entry["key"] for entry in report.untracked] == [keys[1100]]
    assert (report.missing, report.mismatched) == ([keys[1500]], [])
