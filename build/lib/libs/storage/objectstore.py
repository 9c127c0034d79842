"""The object store boundary (R2 / S3): a Protocol, and an in-memory fake beside it.

Only storage holds the credentials, so the Protocol never moves bytes itself: it presigns the
requests that do (a PUT, a multipart part, a GET) and does the small calls around them (create,
complete and abort a multipart upload, HEAD, list, delete).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from libs.errors import ConflictError, PermanentError
from libs.storage.objects import StoredObject

MAX_DELETE_BATCH = 1000


@dataclass(frozen=True)
class PutCondition:
    """Write only over this version (`if_match`, an ETag) or only where nothing is yet."""

    if_match: str | None = None
    if_none_match: bool = False

    def check(self, current: StoredObject | None) -> None:
        """The store's own check, for stores that do it themselves (the fake)."""
        lost = (self.if_none_match and current is not None) or (
            self.if_match is not None and (current is None or current.etag != self.if_match)
        )
        if lost:
            raise ConflictError("the object changed since it was read")


@dataclass(frozen=True)
class PresignedPut:
    """A PUT anyone may send until it expires: to `url`, with exactly these (signed) headers."""

    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class PartDone:
    number: int
    etag: str  # without quotes


@dataclass(frozen=True)
class OpenUpload:
    key: str
    upload_id: str
    initiated: datetime


@dataclass(frozen=True)
class ListPage:
    entries: list[StoredObject]
    next_token: str | None


@dataclass(frozen=True)
class DeleteOutcome:
    deleted: list[str]
    failed: dict[str, str]  # key -> reason


class ObjectStore(Protocol):
    bucket: str

    async def ensure_bucket(self) -> None: ...

    async def presign_put(
        self,
        key: str,
        content_type: str,
        metadata: Mapping[str, str],
        condition: PutCondition | None,
        ttl_seconds: int,
    ) -> PresignedPut:
        """A single PUT of the whole object; a failed condition answers 412 to its sender."""

    async def begin_multipart(
        self, key: str, content_type: str, metadata: Mapping[str, str]
    ) -> str:
        """A new multipart upload's id."""

    async def presign_part(self, key: str, upload_id: str, number: int, ttl_seconds: int) -> str:
        """An UploadPart URL (the sender may add Content-MD5)."""

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[PartDone]
    ) -> None: ...

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an upload and its parts; an upload already gone is no error."""

    async def open_uploads(self) -> list[OpenUpload]:
        """Every multipart upload begun and neither completed nor aborted."""

    async def head(self, key: str) -> StoredObject | None: ...

    async def presign_get(self, key: str, ttl_seconds: int) -> str: ...

    async def delete_many(self, keys: Sequence[str]) -> DeleteOutcome:
        """Delete up to 1,000 keys in one request; report each key's fate."""

    async def list_page(self, prefix: str, token: str | None, max_keys: int) -> ListPage: ...

    async def ping(self) -> None: ...


def multipart_etag(part_etags: Sequence[str]) -> str:
    """The ETag S3 and R2 give a completed multipart upload: MD5 of the parts' MD5s, -count."""
    digest = hashlib.md5(b"".join(bytes.fromhex(etag) for etag in part_etags)).hexdigest()
    return f"{digest}-{len(part_etags)}"


@dataclass
class _PendingPut:
    key: str
    content_type: str
    metadata: dict[str, str]
    condition: PutCondition | None


@dataclass
class _Multipart:
    key: str
    content_type: str
    metadata: dict[str, str]
    initiated: datetime
    parts: dict[int, bytes]


class MemoryObjectStore:
    """Keeps objects in a dict. Presigned URLs are `memory://` ones that `send` carries out,
    as a client's HTTP request would; conditions are checked as R2 checks them."""

    def __init__(self, bucket: str = "memory") -> None:
        self.bucket = bucket
        self.objects: dict[str, tuple[bytes, StoredObject]] = {}
        self.failing_keys: set[str] = set()  # deletes of these fail, as a real store's may
        self._puts: dict[str, _PendingPut] = {}
        self.uploads: dict[str, _Multipart] = {}

    async def ensure_bucket(self) -> None:
        return None

    async def presign_put(
        self,
        key: str,
        content_type: str,
        metadata: Mapping[str, str],
        condition: PutCondition | None,
        ttl_seconds: int,
    ) -> PresignedPut:
        token = secrets.token_hex(8)
        self._puts[token] = _PendingPut(key, content_type, dict(metadata), condition)
        return PresignedPut(f"memory://{self.bucket}/{key}?put={token}", {})

    async def begin_multipart(
        self, key: str, content_type: str, metadata: Mapping[str, str]
    ) -> str:
        upload_id = secrets.token_hex(8)
        self.uploads[upload_id] = _Multipart(
            key, content_type, dict(metadata), datetime.now(UTC), {}
        )
        return upload_id

    async def presign_part(self, key: str, upload_id: str, number: int, ttl_seconds: int) -> str:
        return f"memory://{self.bucket}/{key}?upload={upload_id}&part={number}"

    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[PartDone]) -> None:
        upload = self.uploads.pop(upload_id, None)
        if upload is None or upload.key != key:
            raise PermanentError(f"NoSuchUpload: {upload_id}")
        missing = [part.number for part in parts if part.number not in upload.parts]
        if missing:
            self.uploads[upload_id] = upload
            raise PermanentError(f"InvalidPart: parts {missing} were never sent")
        body = b"".join(upload.parts[part.number] for part in parts)
        etag = multipart_etag([part.etag for part in parts])
        self._store(key, body, etag, upload.content_type, upload.metadata)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        self.uploads.pop(upload_id, None)

    async def open_uploads(self) -> list[OpenUpload]:
        return [OpenUpload(u.key, i, u.initiated) for i, u in self.uploads.items()]

    def send(self, url: str, body: bytes) -> str:
        """Carry out a presigned PUT or UploadPart; return the ETag the store answers."""
        query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
        etag = hashlib.md5(body).hexdigest()
        if "put" in query:
            pending = self._puts.pop(query["put"])
            if pending.condition:
                pending.condition.check(self.objects.get(pending.key, (b"", None))[1])
            self._store(pending.key, body, etag, pending.content_type, pending.metadata)
        else:
            self.uploads[query["upload"]].parts[int(query["part"])] = body
        return etag

    def _store(
        self, key: str, body: bytes, etag: str, content_type: str, metadata: dict[str, str]
    ) -> None:
        stored = StoredObject(
            key=key,
            size=len(body),
            etag=etag,
            content_type=content_type,
            metadata=metadata,
            last_modified=datetime.now(UTC),
        )
        self.objects[key] = (body, stored)

    async def head(self, key: str) -> StoredObject | None:
        entry = self.objects.get(key)
        return entry[1] if entry else None

    async def presign_get(self, key: str, ttl_seconds: int) -> str:
        return f"memory://{self.bucket}/{key}?ttl={ttl_seconds}"

    async def delete_many(self, keys: Sequence[str]) -> DeleteOutcome:
        if len(keys) > MAX_DELETE_BATCH:
            raise PermanentError(f"at most {MAX_DELETE_BATCH} keys per DeleteObjects")
        failed = {key: "InternalError: injected" for key in keys if key in self.failing_keys}
        deleted = [key for key in keys if key not in failed]
        for key in deleted:
            self.objects.pop(key, None)
        return DeleteOutcome(deleted, failed)

    async def list_page(self, prefix: str, token: str | None, max_keys: int) -> ListPage:
        keys = sorted(k for k in self.objects if k.startswith(prefix) and k > (token or ""))
        page = keys[:max_keys]
        return ListPage(
            [self._listed(key) for key in page], page[-1] if len(keys) > max_keys else None
        )

    def _listed(self, key: str) -> StoredObject:
        """A listing says less than a HEAD: no content type, no metadata (as in S3)."""
        stored = self.objects[key][1]
        return StoredObject(
            key=key, size=stored.size, etag=stored.etag, last_modified=stored.last_modified
        )

    async def ping(self) -> None:
        return None
