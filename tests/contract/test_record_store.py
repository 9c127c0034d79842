"""One contract for r2_file_paths: MemoryRecordStore and MongoRecordStore (SecantusDB) alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from libs.settings import Settings
from libs.storage.objects import FileRecord, Usage
from libs.storage.records import (
    MemoryRecordStore,
    MongoRecordStore,
    RecordStore,
    Tombstone,
    mongo_records,
)

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


def key_of(project_id: str, video_id: str, user_id: str = "alice") -> str:
    return f"users/{user_id}/projects/{project_id}/videos/{video_id}/source.mp4"


def database(user_id: str = "alice", size: int = 7) -> FileRecord:
    key = f"users/{user_id}/database.sqlite"
    return record(key, project_id=None, file_type="database", user_id=user_id, size_bytes=size)


def keys(found: list[FileRecord]) -> list[str]:
    return [r.object_key for r in found]


async def test_get_many_returns_the_found_keys_only(records: RecordStore) -> None:
    one, two = record(key_of("p1", "v1")), record(key_of("p1", "v2"))
    await records.upsert_many([one, two])
    found = await records.get_many([two.object_key, key_of("p1", "absent"), one.object_key])
    assert found == {one.object_key: one, two.object_key: two}
    assert await records.get_many([]) == {}


async def test_by_video_matches_the_video_id_of_that_project(records: RecordStore) -> None:
    clip = key_of("p1", "v1").replace("source.mp4", "clips/clip_01_01_goal_original.mp4")
    of_v1 = [record(key_of("p1", "v1")), record(clip, file_type="clip")]
    other_video = record(key_of("p1", "v2"), metadata={"video_id": "v2", "etag": "e"})
    other_project = record(key_of("p2", "v1"), project_id="p2")
    await records.upsert_many([*of_v1, other_video, other_project])
    assert await records.by_video("p1", "v1") == sorted(of_v1, key=lambda r: r.object_key)
    assert keys(await records.by_video("p1", "v2")) == [other_video.object_key]
    assert await records.by_video("p1", "v3") == []


async def test_count_is_per_project_exactly(records: RecordStore) -> None:
    in_p1 = [record(key_of("p1", f"v{n}")) for n in range(3)]
    await records.upsert_many([*in_p1, record(key_of("p10", "v1"), project_id="p10"), database()])
    assert (await records.count("p1"), await records.count("p10")) == (3, 1)
    assert await records.count("p") == 0


async def test_project_page_walks_keys_after_a_key_in_order(records: RecordStore) -> None:
    in_p1 = [record(key_of("p1", f"v{n}")) for n in (4, 0, 3, 1, 2)]
    await records.upsert_many([*in_p1, record(key_of("p10", "v0"), project_id="p10")])
    ordered = sorted(keys(in_p1))
    assert keys(await records.project_page("p1", "", 2)) == ordered[:2]
    assert keys(await records.project_page("p1", ordered[1], 2)) == ordered[2:4]
    assert keys(await records.project_page("p1", ordered[3], 2)) == ordered[4:]
    assert await records.project_page("p1", ordered[4], 2) == []


async def test_project_pages_walk_every_record_once_even_while_deleting_behind(
    records: RecordStore,
) -> None:
    in_p1 = [record(key_of("p1", f"v{n}")) for n in (4, 0, 3, 1, 2)]
    await records.upsert_many([*in_p1, record(key_of("p10", "v0"), project_id="p10")])
    walked = []
    async for page in records.project_pages("p1", size=2):
        walked.append(keys(page))
        await records.delete_keys(keys(page))  # as the cleanup does behind its walk
    ordered = sorted(keys(in_p1))
    assert walked == [ordered[:2], ordered[2:4], ordered[4:]]
    assert (await records.count("p1"), await records.count("p10")) == (0, 1)


async def all_pages(records: RecordStore, prefix: str, size: int) -> list[list[str]]:
    return [keys(page) async for page in records.prefix_pages(prefix, size)]


async def test_prefix_pages_respect_the_prefix_and_the_page_size(records: RecordStore) -> None:
    in_p1 = [record(key_of("p1", f"v{n}")) for n in (2, 0, 4, 1, 3)]
    in_p10 = [record(key_of("p10", "v0"), project_id="p10")]
    await records.upsert_many([*in_p1, *in_p10, database(), database("bob")])
    ordered = sorted(keys(in_p1))
    pages = await all_pages(records, "users/alice/projects/p1/", 2)
    assert pages == [ordered[:2], ordered[2:4], ordered[4:]]
    assert await all_pages(records, "users/alice/projects/p10/", 2) == [keys(in_p10)]
    assert await all_pages(records, "users/carol/", 2) == []


async def test_an_empty_prefix_pages_through_every_record(records: RecordStore) -> None:
    in_p10 = record(key_of("p10", "v1"), project_id="p10")
    everything = [record(key_of("p1", "v1")), in_p10, database("bob")]
    await records.upsert_many(everything)
    pages = await all_pages(records, "", 2)
    assert [len(page) for page in pages] == [2, 1]
    assert [key for page in pages for key in page] == sorted(keys(everything))


async def test_delete_keys_counts_what_it_deleted(records: RecordStore) -> None:
    one, two, kept = (record(key_of("p1", v)) for v in ("v1", "v2", "v3"))
    await records.upsert_many([one, two, kept])
    asked = [one.object_key, key_of("p1", "absent"), two.object_key, one.object_key]
    assert await records.delete_keys(asked) == 2
    assert await records.by_project("p1") == [kept]
    assert await records.delete_keys(asked) == 0
    assert await records.delete_keys([]) == 0


async def seed_usage(records: RecordStore) -> None:
    await records.upsert_many(
        [
            record(key_of("p1", "v1"), size_bytes=100),
            record(key_of("p1", "v2"), size_bytes=20),
            record(key_of("p2", "v1"), project_id="p2", size_bytes=3),
            database(size=5),
            record(key_of("p1", "v1", "bob"), user_id="bob", size_bytes=1000),
        ]
    )


async def test_usage_by_user(records: RecordStore) -> None:
    await seed_usage(records)
    assert await records.usage("user") == [
        Usage(user_id="alice", bytes=128, objects=4),
        Usage(user_id="bob", bytes=1000, objects=1),
    ]
    assert await records.usage("user", "bob") == [Usage(user_id="bob", bytes=1000, objects=1)]
    assert await records.usage("user", "carol") == []


async def test_usage_by_project_leaves_out_the_user_database(records: RecordStore) -> None:
    await seed_usage(records)
    alice = [
        Usage(user_id="alice", project_id="p1", bytes=120, objects=2),
        Usage(user_id="alice", project_id="p2", bytes=3, objects=1),
    ]
    bob = [Usage(user_id="bob", project_id="p1", bytes=1000, objects=1)]
    assert await records.usage("project") == alice + bob
    assert await records.usage("project", "alice") == alice


async def test_a_saved_tombstone_is_found_and_replaced(records: RecordStore) -> None:
    first = Tombstone(project_id="p1", user_id="alice", deleted_at=FIRST)
    assert await records.tombstone("p1") is None
    await records.save_tombstone(first)
    assert await records.tombstone("p1") == first
    second = first.model_copy(update={"deleted_at": LATER, "report": {"deleted_objects": 3}})
    await records.save_tombstone(second)
    assert await records.tombstone("p1") == second
    assert await records.tombstone("p10") is None
