"""The record store boundary: `r2_file_paths`, one document per object key.

A Protocol, the MongoDB adapter (PyMongo's async API) and an in-memory fake side by side.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from pymongo import ASCENDING, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from libs.errors import TransientError
from libs.keys import FileType

COLLECTION = "r2_file_paths"


class FileRecord(BaseModel):
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


class RecordStore(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def upsert_many(self, records: Sequence[FileRecord]) -> None:
        """Insert or update by object_key; applying the same records twice changes nothing."""

    async def get(self, object_key: str) -> FileRecord | None: ...

    async def by_project(self, project_id: str) -> list[FileRecord]: ...

    async def ping(self) -> None: ...


def _last_per_key(records: Sequence[FileRecord]) -> list[FileRecord]:
    return list({record.object_key: record for record in records}.values())


class MongoRecordStore:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._records = collection

    async def ensure_indexes(self) -> None:
        async with _mongo_errors("create indexes"):
            await self._records.create_index([("object_key", ASCENDING)], unique=True)
            await self._records.create_index([("project_id", ASCENDING)])
            await self._records.create_index([("user_id", ASCENDING)])

    async def upsert_many(self, records: Sequence[FileRecord]) -> None:
        if not records:
            return
        operations = [_upsert(record) for record in _last_per_key(records)]
        async with _mongo_errors("upsert records"):
            await self._records.bulk_write(operations, ordered=False)

    async def get(self, object_key: str) -> FileRecord | None:
        async with _mongo_errors("read record"):
            found = await self._records.find_one({"object_key": object_key}, {"_id": 0})
        return FileRecord.model_validate(found) if found else None

    async def by_project(self, project_id: str) -> list[FileRecord]:
        async with _mongo_errors("read project records"):
            cursor = self._records.find({"project_id": project_id}, {"_id": 0})
            return [FileRecord.model_validate(doc) async for doc in cursor.sort("object_key")]

    async def ping(self) -> None:
        async with _mongo_errors("ping"):
            await self._records.database.command("ping")


def _upsert(record: FileRecord) -> UpdateOne:
    fields = record.model_dump()
    created_at = fields.pop("created_at")
    return UpdateOne(
        {"object_key": record.object_key},
        {"$set": fields, "$setOnInsert": {"created_at": created_at}},
        upsert=True,
    )


@contextlib.asynccontextmanager
async def _mongo_errors(action: str) -> AsyncIterator[None]:
    try:
        yield
    except PyMongoError as exc:
        raise TransientError(f"MongoDB could not {action}: {exc}") from exc


@contextlib.asynccontextmanager
async def mongo_records(uri: str, database: str) -> AsyncIterator[MongoRecordStore]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    try:
        yield MongoRecordStore(client[database][COLLECTION])
    finally:
        await client.close()


class MemoryRecordStore:
    def __init__(self) -> None:
        self.records: dict[str, FileRecord] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def upsert_many(self, records: Sequence[FileRecord]) -> None:
        for record in _last_per_key(records):
            existing = self.records.get(record.object_key)
            created = existing.created_at if existing else record.created_at
            self.records[record.object_key] = record.model_copy(update={"created_at": created})

    async def get(self, object_key: str) -> FileRecord | None:
        return self.records.get(object_key)

    async def by_project(self, project_id: str) -> list[FileRecord]:
        return sorted(
            (r for r in self.records.values() if r.project_id == project_id),
            key=lambda r: r.object_key,
        )

    async def ping(self) -> None:
        return None
