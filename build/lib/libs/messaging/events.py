"""Every message cliptrail puts on NATS, typed and versioned, in one place.

Which subject carries which message, and who sends and receives it, is in
`libs.messaging.topology` (the route map); the docstrings here say what a message means.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from libs.errors import PermanentError
from libs.media.highlights import Highlight
from libs.storage.keys import FileType
from libs.storage.objects import FileRecord, GroupBy, StoredObject, Usage

OBJECT_CREATED = "storage.object.created"
OBJECT_DELETED = "storage.object.deleted"
EVENT_SOURCE = "cliptrail/storage"

M = TypeVar("M", bound=BaseModel)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Reply(_Message):
    """A request-reply answer: `error` set means it failed; `permanent`: retrying won't help."""

    error: str | None = None
    permanent: bool = False
    conflict: bool = False  # a conditional write lost (412)


def utcnow() -> datetime:
    return datetime.now(UTC)


class R2Object(_Message):
    """The `object` of an R2 event notification: a projection of a StoredObject."""

    key: str
    size: int = Field(ge=0)
    eTag: str  # the field name of R2's event notifications

    @classmethod
    def of(cls, stored: StoredObject) -> R2Object:
        return cls(key=stored.key, size=stored.size, eTag=stored.etag)


class ObjectEventData(_Message):
    """R2's event-notification shape plus who the object belongs to."""

    action: Literal["PutObject", "CompleteMultipartUpload", "DeleteObject", "DeleteObjects"]
    bucket: str
    object: R2Object
    eventTime: datetime  # the field name of R2's event notifications
    # None only on deleted events of keys outside the layout (found by a prefix scan)
    user_id: str | None
    project_id: str | None
    video_id: str | None
    file_type: FileType | None
    content_type: str
    scene_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    def stored_object(self) -> StoredObject:
        """The object this event announces, in the one shape."""
        return StoredObject(
            key=self.object.key,
            size=self.object.size,
            etag=self.object.eTag,
            content_type=self.content_type or "application/octet-stream",
            metadata=self.metadata,
        )


class ObjectEvent(_Message):
    """A CloudEvents 1.0 envelope for storage.object.created / storage.object.deleted."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str = EVENT_SOURCE
    type: Literal["storage.object.created", "storage.object.deleted"]
    time: datetime
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str = "cliptrail:storage-object:v1"
    data: ObjectEventData


def object_event_id(event_type: str, bucket: str, key: str, etag: str) -> str:
    """Stable id (and Nats-Msg-Id): the same object version always gives the same id."""
    digest = hashlib.sha256(f"{event_type}\n{bucket}\n{key}\n{etag}".encode()).hexdigest()
    return digest[:40]


def object_event(event_type: str, data: ObjectEventData) -> ObjectEvent:
    event_id = object_event_id(event_type, data.bucket, data.object.key, data.object.eTag)
    return ObjectEvent(
        id=event_id, type=event_type, time=data.eventTime, subject=data.object.key, data=data
    )


class NewObject(_Message):
    """What an object about to be written will be: where, its type, and what it carries."""

    key: str
    content_type: str
    metadata: dict[str, str] = Field(default_factory=dict)
    scene_id: str | None = None


class PutUrlRequest(_Message):
    """Presign one PUT of a whole object (small objects; conditional catalog writes)."""

    version: Literal[1] = 1
    object: NewObject
    # Conditional writes: over this ETag, or only where nothing is yet.
    if_match: str | None = None
    if_none_match: bool = False


class PutUrlReply(_Reply):
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)  # send exactly these: they are signed


class BeginUploadRequest(_Message):
    """Begin a multipart upload of a large object (or of a stream of unknown length)."""

    version: Literal[1] = 1
    object: NewObject


class BeginUploadReply(_Reply):
    upload_id: str | None = None


class PartUrlsRequest(_Message):
    """Presign the UploadPart URLs of parts first..first+count-1 of an upload."""

    version: Literal[1] = 1
    key: str
    upload_id: str
    first: int = Field(ge=1, le=10000)
    count: int = Field(ge=1, le=100)


class PartUrlsReply(_Reply):
    urls: list[str] = Field(default_factory=list)


class UploadedPart(_Message):
    number: int = Field(ge=1, le=10000)
    etag: str  # the part's MD5, as the store answered it


class CompleteUploadRequest(_Message):
    """Complete a multipart upload, verify the object it made (size and ETag), announce it."""

    version: Literal[1] = 1
    key: str
    upload_id: str
    parts: list[UploadedPart] = Field(min_length=1, max_length=10000)
    size: int = Field(ge=0)


class CommitRequest(_Message):
    """Verify an object written by a presigned PUT (size and MD5) and announce it."""

    version: Literal[1] = 1
    key: str
    size: int = Field(ge=0)
    etag: str


class StoredReply(_Reply):
    """The object as stored, verified and announced."""

    object: StoredObject | None = None


class AbortUploadRequest(_Message):
    """Drop a multipart upload and every part sent so far."""

    version: Literal[1] = 1
    key: str
    upload_id: str


class AbortReply(_Reply):
    """No error: the upload is gone (or was already)."""


class PresignRequest(_Message):
    version: Literal[1] = 1
    key: str


class PresignReply(_Reply):
    url: str | None = None


class Ping(_Message):
    """Is the service there (and, for storage, does the bucket answer)?"""

    version: Literal[1] = 1


class PingReply(_Reply):
    """No error: the service (and its backing store) answers."""


class RenderRequest(_Message):
    """Ask render for a video's clips.

    ingest publishes it once the source is stored; `highlights` None means render picks them.
    """

    version: Literal[1] = 1
    user_id: str
    project_id: str
    video_id: str
    source_key: str
    highlights: list[Highlight] | None = None


RenderState = Literal["rendering", "ready", "failed"]


class RenderStatus(_Message):
    """A video's render progress."""

    version: Literal[1] = 1
    user_id: str
    project_id: str
    video_id: str
    status: RenderState
    error: str | None = None


class CleanupRequest(_Message):
    """Delete a project's objects and records."""

    version: Literal[1] = 1
    user_id: str
    project_id: str
    requested_at: datetime = Field(default_factory=utcnow)


class ObjectRef(_Message):
    key: str
    etag: str = ""


class DeleteRequest(_Message):
    """Delete up to 1,000 keys."""

    version: Literal[1] = 1
    objects: list[ObjectRef] = Field(max_length=1000)


class KeyFailure(_Message):
    key: str
    error: str


class DeleteReply(_Reply):
    deleted: list[str] = Field(default_factory=list)
    failed: list[KeyFailure] = Field(default_factory=list)


class ListRequest(_Message):
    """One page of a prefix listing."""

    version: Literal[1] = 1
    prefix: str
    continuation_token: str | None = None
    max_keys: int = Field(default=1000, ge=1, le=1000)


class ListReply(_Reply):
    objects: list[StoredObject] = Field(default_factory=list)
    next_token: str | None = None


class HeadRequest(_Message):
    """What the bucket holds at a key right now."""

    version: Literal[1] = 1
    key: str


class HeadReply(_Reply):
    object: StoredObject | None = None  # None: nothing at that key


class CleanupCommand(_Message):
    """An admin's cleanup."""

    version: Literal[1] = 1
    project_id: str
    user_id: str | None = None
    dry_run: bool = True
    delete_records_only: bool = False


class ReconcileCommand(_Message):
    """An admin's reconcile."""

    version: Literal[1] = 1
    prefix: str = ""
    dry_run: bool = True


class AdminReply(_Reply):
    report: dict[str, Any] | None = None


DeadLetterAction = Literal["list", "show", "replay", "purge"]


class DeadLetterCommand(_Message):
    """An admin's look at, or action on, the dead letters: `seq` is a dead letter's sequence in
    the dead-letter stream (show and replay need one; purge without one removes them all)."""

    version: Literal[1] = 1
    action: DeadLetterAction = "list"
    seq: int | None = Field(default=None, ge=1)
    after: int = Field(default=0, ge=0)  # list: those with a larger sequence
    limit: int = Field(default=100, ge=1, le=1000)


class DeadLetter(_Message):
    seq: int
    subject: str  # the original subject, where a replay sends it
    error: str
    headers: dict[str, str]
    data: str  # the payload as text (undecodable bytes replaced)
    time: datetime | None = None


class DeadLetterReply(_Reply):
    letters: list[DeadLetter] = Field(default_factory=list)
    removed: int = 0


class UsageQuery(_Message):
    """Bytes and objects from the ledger, per user or per project; one user's or everyone's."""

    version: Literal[1] = 1
    group_by: GroupBy = "user"
    user_id: str | None = None


class UsageReply(_Reply):
    usage: list[Usage] = Field(default_factory=list)


class RecordsQuery(_Message):
    """A page of a project's ledger records in key order (one video's, when `video_id` is set)."""

    version: Literal[1] = 1
    project_id: str
    video_id: str | None = None
    after: str = ""
    limit: int = Field(default=1000, ge=1, le=1000)
    with_count: bool = False


class RecordsReply(_Reply):
    records: list[FileRecord] = Field(default_factory=list)
    next_cursor: str | None = None  # `after` for the next page; None on the last one
    count: int | None = None  # all of the project's records, when asked for


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


def decode(model: type[M], payload: bytes) -> M:
    """Parse a message; anything malformed is a PermanentError (it goes to the dead letters)."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        raise PermanentError(f"malformed {model.__name__}: {_summary(exc)}") from exc


def _summary(exc: ValidationError) -> str:
    errors: list[Any] = exc.errors(include_url=False, include_input=False)
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
