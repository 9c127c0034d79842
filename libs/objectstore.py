"""The object store boundary (R2 / S3): a Protocol, and an in-memory fake beside it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from libs.errors import PermanentError


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str  # without quotes
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)


class ObjectStore(Protocol):
    bucket: str

    async def ensure_bucket(self) -> None: ...

    async def put_file(
        self, key: str, path: Path, content_type: str, metadata: dict[str, str]
    ) -> StoredObject:
        """Upload a local file and return what the store holds afterwards (verified)."""

    async def head(self, key: str) -> StoredObject | None: ...

    async def presign_get(self, key: str, ttl_seconds: int) -> str: ...

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

    async def ensure_bucket(self) -> None:
        return None

    async def put_file(
        self, key: str, path: Path, content_type: str, metadata: dict[str, str]
    ) -> StoredObject:
        body = read_local(path)
        stored = StoredObject(
            key, len(body), hashlib.md5(body).hexdigest(), content_type, dict(metadata)
        )
        self.objects[key] = (body, stored)
        return stored

    async def head(self, key: str) -> StoredObject | None:
        entry = self.objects.get(key)
        return entry[1] if entry else None

    async def presign_get(self, key: str, ttl_seconds: int) -> str:
        return f"memory://{self.bucket}/{key}?ttl={ttl_seconds}"

    async def ping(self) -> None:
        return None
