"""The object store boundary (R2 / S3): a Protocol, and an in-memory fake beside it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from libs.errors import ConflictError, PermanentError


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str  # without quotes
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None


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
class ListedEntry:
    key: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class ListPage:
    entries: list[ListedEntry]
    next_token: str | None


@dataclass(frozen=True)
class DeleteOutcome:
    deleted: list[str]
    failed: dict[str, str]  # key -> reason


MAX_DELETE_BATCH = 1000


class ObjectStore(Protocol):
    bucket: str

    async def ensure_bucket(self) -> None: ...

    async def put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        metadata: dict[str, str],
        condition: PutCondition | None = None,
    ) -> StoredObject:
        """Upload a local file and return what the store holds afterwards (verified);
        ConflictError when `condition` does not hold."""

    async def head(self, key: str) -> StoredObject | None: ...

    async def presign_get(self, key: str, ttl_seconds: int) -> str: ...

    async def delete_many(self, keys: Sequence[str]) -> DeleteOutcome:
        """Delete up to 1,000 keys in one request; report each key's fate."""

    async def list_page(self, prefix: str, token: str | None, max_keys: int) -> ListPage: ...

    async def ping(self) -> None: ...


def read_local(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise PermanentError(f"local file to push is missing: {path.name}") from exc


class MemoryObjectStore:
    """Keeps objects in a dict; same verification semantics as the S3 adapter."""

    def __init__(self, bucket: str = "memory") -> None:
        self.bucket = bucket
        self.objects: dict[str, tuple[bytes, StoredObject]] = {}
        self.modified: dict[str, datetime] = {}
        self.failing_keys: set[str] = set()  # deletes of these fail, as a real store's may

    async def ensure_bucket(self) -> None:
        return None

    async def put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        metadata: dict[str, str],
        condition: PutCondition | None = None,
    ) -> StoredObject:
        body = read_local(path)
        if condition:
            condition.check(await self.head(key))
        stored = StoredObject(
            key, len(body), hashlib.md5(body).hexdigest(), content_type, dict(metadata)
        )
        self.objects[key] = (body, stored)
        self.modified[key] = datetime.now(UTC)
        return replace(stored, last_modified=self.modified[key])

    async def head(self, key: str) -> StoredObject | None:
        entry = self.objects.get(key)
        return replace(entry[1], last_modified=self.modified[key]) if entry else None

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
        entries = [
            ListedEntry(k, self.objects[k][1].size, self.objects[k][1].etag, self.modified[k])
            for k in page
        ]
        return ListPage(entries, page[-1] if len(keys) > max_keys else None)

    async def ping(self) -> None:
        return None
