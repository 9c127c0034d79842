"""The object store boundary (R2 / S3): a Protocol, and an in-memory fake beside it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from libs.errors import ConflictError, PermanentError
from libs.storage.objects import StoredObject


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
class ListPage:
    entries: list[StoredObject]
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
        self.modified[key] = datetime.now(UTC)
        etag = hashlib.md5(body).hexdigest()
        stored = StoredObject(
            key=key,
            size=len(body),
            etag=etag,
            content_type=content_type,
            metadata=dict(metadata),
            last_modified=self.modified[key],
        )
        self.objects[key] = (body, stored)
        return stored

    async def head(self, key: str) -> StoredObject | None:
        entry = self.objects.get(key)
        return entry[1].model_copy(update={"last_modified": self.modified[key]}) if entry else None

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
            key=key, size=stored.size, etag=stored.etag, last_modified=self.modified[key]
        )

    async def ping(self) -> None:
        return None
