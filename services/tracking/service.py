"""Tracking logic: turn a storage.object.created event into its r2_file_paths record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from libs.errors import PermanentError
from libs.events import ObjectEvent
from libs.keys import InvalidKeyError, parse_key
from libs.records import FileRecord, RecordStore


def record_of(event: ObjectEvent) -> FileRecord:
    """The record an event describes; PermanentError when the event contradicts its key."""
    data = event.data
    try:
        parsed = parse_key(data.object.key)
    except InvalidKeyError as exc:
        raise PermanentError(str(exc)) from exc
    claimed = (data.user_id, data.project_id, data.video_id, data.file_type)
    if claimed != (parsed.user_id, parsed.project_id, parsed.video_id, parsed.file_type):
        raise PermanentError(f"event fields contradict its key {data.object.key!r}")
    metadata = {**data.metadata, "video_id": parsed.video_id, "etag": data.object.eTag}
    return FileRecord(
        object_key=parsed.key,
        project_id=parsed.project_id,
        user_id=parsed.user_id,
        scene_id=data.scene_id,
        file_type=parsed.file_type,
        size_bytes=data.object.size,
        content_type=data.content_type,
        metadata=metadata,
        created_at=data.eventTime,
        updated_at=data.eventTime,
    )


@dataclass
class TrackingService:
    records: RecordStore

    async def record_batch(self, records: Sequence[FileRecord]) -> None:
        await self.records.upsert_many(records)
