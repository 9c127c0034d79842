"""record_of: a storage.object.created event becomes exactly one r2_file_paths record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from libs.errors import PermanentError
from libs.messaging.bus import InMemoryBus
from libs.messaging.events import (
    OBJECT_CREATED,
    ObjectEvent,
    ObjectEventData,
    R2Object,
    object_event,
)
from libs.messaging.topology import Topology
from libs.storage.objects import FileRecord
from libs.storage.records import MemoryRecordStore
from libs.storage.storage_client import StorageClient
from services.tracking.service import TrackingService, record_of

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
CLIP = "users/alice/projects/p1/videos/v1/clips/clip_01_02_goal_vertical.mp4"
DATABASE = "users/alice/database.sqlite"


def event_for(key: str, **changes: Any) -> ObjectEvent:
    fields: dict[str, Any] = {
        "action": "PutObject",
        "bucket": "cliptrail",
        "object": R2Object(key=key, size=4096, eTag="e1"),
        "eventTime": WHEN,
        "user_id": "alice",
        "project_id": "p1",
        "video_id": "v1",
        "file_type": "clip",
        "content_type": "video/mp4",
        "scene_id": "h1",
        "metadata": {"title": "Goal"},
    }
    return object_event(OBJECT_CREATED, ObjectEventData(**{**fields, **changes}))


def test_clip_event_maps_every_field() -> None:
    assert record_of(event_for(CLIP)) == FileRecord(
        object_key=CLIP,
        project_id="p1",
        user_id="alice",
        scene_id="h1",
        file_type="clip",
        size_bytes=4096,
        content_type="video/mp4",
        metadata={"title": "Goal", "video_id": "v1", "etag": "e1"},
        created_at=WHEN,
        updated_at=WHEN,
    )


def test_database_event_has_no_project_video_or_scene() -> None:
    event = event_for(
        DATABASE, project_id=None, video_id=None, file_type="database", scene_id=None,
        content_type="application/vnd.sqlite3", metadata={},
    )  # fmt: skip
    record = record_of(event)
    assert (record.project_id, record.scene_id, record.file_type) == (None, None, "database")
    assert record.metadata == {"video_id": None, "etag": "e1"}


def test_video_id_and_etag_metadata_win_over_event_metadata() -> None:
    event = event_for(CLIP, metadata={"video_id": "forged", "etag": "forged", "x": "y"})
    assert record_of(event).metadata == {"video_id": "v1", "etag": "e1", "x": "y"}


@pytest.mark.parametrize(
    "contradiction",
    [
        {"user_id": "bob"},
        {"project_id": "p2"},
        {"project_id": None},
        {"video_id": "v2"},
        {"file_type": "thumbnail"},
    ],
)
def test_event_fields_that_contradict_the_key_are_permanent_errors(
    contradiction: dict[str, Any],
) -> None:
    with pytest.raises(PermanentError, match="contradict"):
        record_of(event_for(CLIP, **contradiction))


@pytest.mark.parametrize(
    "key",
    ["users/alice/notes.txt", "../users/alice/database.sqlite", "", "users/a b/database.sqlite"],
)
def test_a_key_outside_the_layout_is_a_permanent_error(key: str) -> None:
    with pytest.raises(PermanentError):
        record_of(event_for(key))


async def test_record_batch_upserts_into_the_record_store() -> None:
    records = MemoryRecordStore()
    await TrackingService(records, StorageClient(InMemoryBus(Topology()), Topology())).record_batch(
        [record_of(event_for(CLIP))]
    )
    assert await records.get(CLIP) == record_of(event_for(CLIP))
