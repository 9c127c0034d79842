"""What an object is: one typed shape for a stored object, and its ledger record as a projection.

Everywhere cliptrail speaks of an object (a store's answer, a listing entry, a HEAD, a push's
reply) it is a `StoredObject`. The ledger's `FileRecord` and the R2 event notification's `object`
are projections of it, each built in one function here or in `libs.messaging.events`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.storage.keys import FileType, parse_key

GroupBy = Literal["user", "project"]


class StoredObject(BaseModel):
    """What the bucket holds at a key. `etag` is without quotes; `last_modified` is None only
    where a store did not say (a conditional PUT's own answer)."""

    model_config = ConfigDict(frozen=True)

    key: str
    size: int = Field(ge=0)
    etag: str
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = Field(default_factory=dict)
    last_modified: datetime | None = None


class FileRecord(BaseModel):
    """One document of `r2_file_paths` (DESIGN.md): an object key and what it belongs to."""

    model_config = ConfigDict(frozen=True)

    object_key: str
    project_id: str | None
    user_id: str
    scene_id: str | None
    file_type: FileType
    size_bytes: int
    content_type: str
    metadata: dict[str, str | None]
    created_at: datetime
    updated_at: datetime


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    project_id: str | None = None
    bytes: int
    objects: int


def file_record(obj: StoredObject, at: datetime, scene_id: str | None = None) -> FileRecord:
    """The ledger record of an object (InvalidKeyError for a key outside the layout)."""
    parsed = parse_key(obj.key)
    return FileRecord(
        object_key=obj.key,
        project_id=parsed.project_id,
        user_id=parsed.user_id,
        scene_id=scene_id,
        file_type=parsed.file_type,
        size_bytes=obj.size,
        content_type=obj.content_type,
        metadata={**obj.metadata, "video_id": parsed.video_id, "etag": obj.etag},
        created_at=at,
        updated_at=at,
    )
