"""One contract for r2_file_paths: MemoryRecordStore and MongoRecordStore (SecantusDB) alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from libs.records import FileRecord, MemoryRecordStore, MongoRecordStore, RecordStore, mongo_records
from libs.settings import Settings

# MongoDB keeps milliseconds: the times below have none finer.
FIRST = datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
LATER = FIRST + timedelta(minutes=5)


@pytest_asyncio.fixture
async def mongo_store(
    settings: Settings, records_collection: Any
) -> AsyncIterator[MongoRecordStore]:
    async with mongo_records(settings.mongodb_uri, settings.mongodb_db) as store:
        await store.ensure_indexes()
        yield store


@pytest.fixture(params=["memory", "mongo"])
def records(request: pytest.FixtureRequest) -> RecordStore:
    if request.param == "memory":
        return MemoryRecordStore()
    real: RecordStore = request.getfixturevalue("mongo_store")
    return real


def record(key: str, project_id: str | None = "p1", **changes: Any) -> FileRecord:
    fields: dict[str, Any] = {
        "object_key": key,
        "project_id": project_id,
        "user_id": "alice",
        "scene_id": None,
        "file_type": "source",
        "size_bytes": 1000,
        "content_type": "video/mp4",
        "metadata": {"video_id": "v1", "etag": "e1"},
        "created_at": FIRST,
        "updated_at": FIRST,
    }
    return FileRecord(**{**fields, **changes})


def source(project_id: str, video_id: str = "v1") -> str:
    return f"users/alice/projects/{project_id}/videos/{video_id}/source.mp4"


async def test_upsert_then_get_returns_the_same_record(records: RecordStore) -> None:
    clip = record(
        "users/alice/projects/p1/videos/v1/clips/clip_01_01_goal_original.mp4",
        scene_id="h1", file_type="clip", metadata={"video_id": "v1", "etag": "e2", "x": None},
    )  # fmt: skip
    await records.upsert_many([clip])
    assert await records.get(clip.object_key) == clip


async def test_a_database_record_has_no_project(records: RecordStore) -> None:
    database = record("users/alice/database.sqlite", project_id=None, file_type="database")
    await records.upsert_many([database])
    assert await records.get(database.object_key) == database


async def test_upserting_the_same_record_twice_keeps_one(records: RecordStore) -> None:
    once = record(source("p1"))
    await records.upsert_many([once])
    await records.upsert_many([once])
    assert await records.by_project("p1") == [once]


async def test_an_update_keeps_created_at_and_follows_updated_at(records: RecordStore) -> None:
    await records.upsert_many([record(source("p1"))])
    newer = record(
        source("p1"), size_bytes=2000, metadata={"video_id": "v1", "etag": "e9"},
        created_at=LATER, updated_at=LATER,
    )  # fmt: skip
    await records.upsert_many([newer])
    stored = await records.get(source("p1"))
    assert stored == newer.model_copy(update={"created_at": FIRST})
    assert await records.by_project("p1") == [stored]


async def test_the_last_of_duplicates_in_one_batch_wins(records: RecordStore) -> None:
    first, last = record(source("p1")), record(source("p1"), size_bytes=5)
    await records.upsert_many([first, last])
    assert await records.get(source("p1")) == last


async def test_an_empty_batch_changes_nothing(records: RecordStore) -> None:
    await records.upsert_many([])
    assert await records.by_project("p1") == []


async def test_by_project_matches_the_project_id_exactly(records: RecordStore) -> None:
    in_p1 = [record(source("p1", "vb")), record(source("p1", "va"))]
    in_p10 = [record(source("p10"), project_id="p10")]
    user_db = [record("users/alice/database.sqlite", project_id=None, file_type="database")]
    await records.upsert_many(in_p1 + in_p10 + user_db)
    assert await records.by_project("p1") == sorted(in_p1, key=lambda r: r.object_key)
    assert await records.by_project("p10") == in_p10
    assert await records.by_project("p") == []


async def test_get_of_a_missing_key_is_none(records: RecordStore) -> None:
    await records.upsert_many([record(source("p1"))])
    assert await records.get(source("p2")) is None
    assert await records.get(source("p1") + "x") is None


async def test_ping_answers(records: RecordStore) -> None:
    await records.ping()


async def test_mongo_keeps_one_document_per_key(
    mongo_store: MongoRecordStore, records_collection: Any
) -> None:
    await mongo_store.upsert_many([record(source("p1"))])
    await mongo_store.upsert_many([record(source("p1"), updated_at=LATER)])
    assert await records_collection.count_documents({}) == 1
