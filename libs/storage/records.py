"""The record store boundary: `r2_file_paths`, one document per object key, and the tombstones
of deleted projects. A Protocol, the MongoDB adapter (PyMongo's async API) and the in-memory
fake side by side; one contract suite runs against both.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from pymongo import ASCENDING, AsyncMongoClient, DeleteMany, UpdateOne, WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from libs.errors import TransientError
from libs.storage.objects import FileRecord, GroupBy, Usage

COLLECTION = "r2_file_paths"
TOMBSTONES = "deleted_projects"
PAGE = 1000


class Tombstone(BaseModel):
    """A deleted project: objects that arrive for it later are deleted, never recorded."""

    model_config = ConfigDict(frozen=True)

    project_id: str
    user_id: str
    deleted_at: datetime
    report: dict[str, Any] | None = None


class RecordStore(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def upsert_many(self, records: Sequence[FileRecord]) -> None:
        """Insert or update by object_key; applying the same records twice changes nothing."""

    async def get(self, object_key: str) -> FileRecord | None: ...

    async def get_many(self, keys: Sequence[str]) -> dict[str, FileRecord]: ...

    async def by_project(self, project_id: str) -> list[FileRecord]: ...

    async def by_video(self, project_id: str, video_id: str) -> list[FileRecord]: ...

    async def count(self, project_id: str) -> int: ...

    async def project_page(self, project_id: str, after: str, limit: int) -> list[FileRecord]:
        """Records of a project with keys after `after`, in key order."""

    def project_pages(self, project_id: str, size: int = PAGE) -> AsyncIterator[list[FileRecord]]:
        """Every record of a project, in key order, a page at a time; records deleted behind
        the walk do not disturb it."""

    def prefix_pages(self, prefix: str, size: int = PAGE) -> AsyncIterator[list[FileRecord]]:
        """Records whose keys start with `prefix`, in key order, a page at a time."""

    async def delete_keys(self, keys: Sequence[str]) -> int: ...

    async def delete_versions(self, versions: Sequence[tuple[str, str]]) -> int:
        """Delete records by (key, etag); an empty etag matches any version of the key."""

    async def usage(self, group_by: GroupBy, user_id: str | None = None) -> list[Usage]: ...

    async def save_tombstone(self, tombstone: Tombstone) -> None: ...

    async def tombstone(self, project_id: str) -> Tombstone | None: ...

    async def deleted_projects(self, project_ids: Sequence[str]) -> set[str]:
        """Which of these projects have a tombstone (one query for many)."""

    async def ping(self) -> None: ...


def last_per_key(records: Sequence[FileRecord]) -> list[FileRecord]:
    return list({record.object_key: record for record in records}.values())


def _key_range(prefix: str, after: str) -> dict[str, Any]:
    """Keys after `after` that start with `prefix` (an anchored regex uses the index)."""
    condition: dict[str, Any] = {"$gt": after}
    if prefix:
        condition["$regex"] = f"^{re.escape(prefix)}"
    return condition


class MongoRecordStore:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._records = collection
        self._tombstones = collection.database[TOMBSTONES]

    async def ensure_indexes(self) -> None:
        async with _mongo_errors("create indexes"):
            await self._records.create_index([("object_key", ASCENDING)], unique=True)
            await self._records.create_index([("project_id", ASCENDING)])
            await self._records.create_index([("user_id", ASCENDING)])
            await self._tombstones.create_index([("project_id", ASCENDING)], unique=True)

    async def upsert_many(self, records: Sequence[FileRecord]) -> None:
        if not records:
            return
        operations = [_upsert(record) for record in last_per_key(records)]
        async with _mongo_errors("upsert records"):
            await self._records.bulk_write(operations, ordered=False)

    async def get(self, object_key: str) -> FileRecord | None:
        found = await self._find({"object_key": object_key}, limit=1)
        return found[0] if found else None

    async def get_many(self, keys: Sequence[str]) -> dict[str, FileRecord]:
        found = await self._find({"object_key": {"$in": list(keys)}}) if keys else []
        return {record.object_key: record for record in found}

    async def by_project(self, project_id: str) -> list[FileRecord]:
        return await self._find({"project_id": project_id})

    async def by_video(self, project_id: str, video_id: str) -> list[FileRecord]:
        return await self._find({"project_id": project_id, "metadata.video_id": video_id})

    async def count(self, project_id: str) -> int:
        async with _mongo_errors("count records"):
            return await self._records.count_documents({"project_id": project_id})

    async def project_page(self, project_id: str, after: str, limit: int) -> list[FileRecord]:
        query = {"project_id": project_id, "object_key": {"$gt": after}}
        return await self._find(query, limit=limit)

    async def project_pages(
        self, project_id: str, size: int = PAGE
    ) -> AsyncIterator[list[FileRecord]]:
        """One cursor for the whole walk: a query per page would make the server find and
        sort the project's records again for every page (ten times the reading for 10,000)."""
        query = {"project_id": project_id}
        page: list[FileRecord] = []
        async with _mongo_errors("read records"):
            cursor = self._records.find(query, {"_id": 0}).sort("object_key", ASCENDING)
            async for document in cursor.batch_size(size):
                page.append(FileRecord.model_validate(document))
                if len(page) == size:
                    yield page
                    page = []
        if page:
            yield page

    async def prefix_pages(self, prefix: str, size: int = PAGE) -> AsyncIterator[list[FileRecord]]:
        after = ""
        while True:
            page = await self._find({"object_key": _key_range(prefix, after)}, limit=size)
            if not page:
                return
            yield page
            after = page[-1].object_key

    async def delete_keys(self, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        async with _mongo_errors("delete records"):
            result = await self._records.bulk_write(
                [DeleteMany({"object_key": {"$in": list(keys)}})]
            )
        return result.deleted_count

    async def delete_versions(self, versions: Sequence[tuple[str, str]]) -> int:
        existing = await self.get_many([key for key, _ in versions])  # usually none: cheap
        doomed = [(key, etag) for key, etag in versions if key in existing]
        if not doomed:
            return 0
        operations = [DeleteMany(_version_filter(key, etag)) for key, etag in doomed]
        async with _mongo_errors("delete records"):
            result = await self._records.bulk_write(operations, ordered=False)
        return result.deleted_count

    async def usage(self, group_by: GroupBy, user_id: str | None = None) -> list[Usage]:
        match: dict[str, Any] = {"user_id": user_id} if user_id else {}
        group: Any = "$user_id"
        if group_by == "project":
            match["project_id"] = {"$ne": None}
            group = {"user_id": "$user_id", "project_id": "$project_id"}
        pipeline = [
            {"$match": match},
            {"$group": {"_id": group, "bytes": {"$sum": "$size_bytes"}, "objects": {"$sum": 1}}},
            {"$sort": {"_id": 1}},
        ]
        async with _mongo_errors("aggregate usage"):
            rows = await (await self._records.aggregate(pipeline)).to_list()
        return [_usage(row) for row in rows]

    async def save_tombstone(self, tombstone: Tombstone) -> None:
        document = tombstone.model_dump()
        async with _mongo_errors("save tombstone"):
            await self._tombstones.replace_one(
                {"project_id": tombstone.project_id}, document, upsert=True
            )

    async def tombstone(self, project_id: str) -> Tombstone | None:
        async with _mongo_errors("read tombstone"):
            found = await self._tombstones.find_one({"project_id": project_id}, {"_id": 0})
        return Tombstone.model_validate(found) if found else None

    async def deleted_projects(self, project_ids: Sequence[str]) -> set[str]:
        query = {"project_id": {"$in": list(project_ids)}}
        async with _mongo_errors("read tombstones"):
            found = await self._tombstones.find(query, {"_id": 0, "project_id": 1}).to_list()
        return {document["project_id"] for document in found}

    async def ping(self) -> None:
        async with _mongo_errors("ping"):
            await self._records.database.command("ping")

    async def _find(self, query: dict[str, Any], limit: int = 0) -> list[FileRecord]:
        async with _mongo_errors("read records"):
            cursor = self._records.find(query, {"_id": 0}).sort("object_key", ASCENDING)
            return [FileRecord.model_validate(doc) async for doc in cursor.limit(limit)]


def _version_filter(key: str, etag: str) -> dict[str, Any]:
    return {"object_key": key, "metadata.etag": etag} if etag else {"object_key": key}


def _usage(row: dict[str, Any]) -> Usage:
    group = row["_id"] if isinstance(row["_id"], dict) else {"user_id": row["_id"]}
    return Usage(**group, bytes=row["bytes"], objects=row["objects"])


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
    # The ledger must survive a primary's failover: a write counts once a majority has it.
    db = client.get_database(database, write_concern=WriteConcern("majority"))
    try:
        yield MongoRecordStore(db[COLLECTION])
    finally:
        await client.close()


class MemoryRecordStore:
    def __init__(self) -> None:
        self.records: dict[str, FileRecord] = {}
        self.tombstones: dict[str, Tombstone] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def upsert_many(self, records: Sequence[FileRecord]) -> None:
        for record in last_per_key(records):
            existing = self.records.get(record.object_key)
            created = existing.created_at if existing else record.created_at
            self.records[record.object_key] = record.model_copy(update={"created_at": created})

    async def get(self, object_key: str) -> FileRecord | None:
        return self.records.get(object_key)

    async def get_many(self, keys: Sequence[str]) -> dict[str, FileRecord]:
        return {key: self.records[key] for key in keys if key in self.records}

    async def by_project(self, project_id: str) -> list[FileRecord]:
        return self._sorted(lambda r: r.project_id == project_id)

    async def by_video(self, project_id: str, video_id: str) -> list[FileRecord]:
        return self._sorted(
            lambda r: r.project_id == project_id and r.metadata.get("video_id") == video_id
        )

    async def count(self, project_id: str) -> int:
        return len(self._sorted(lambda r: r.project_id == project_id))

    async def project_page(self, project_id: str, after: str, limit: int) -> list[FileRecord]:
        return self._sorted(lambda r: r.project_id == project_id and r.object_key > after)[:limit]

    async def project_pages(
        self, project_id: str, size: int = PAGE
    ) -> AsyncIterator[list[FileRecord]]:
        matching = self._sorted(lambda r: r.project_id == project_id)
        for start in range(0, len(matching), size):
            yield matching[start : start + size]

    async def prefix_pages(self, prefix: str, size: int = PAGE) -> AsyncIterator[list[FileRecord]]:
        matching = self._sorted(lambda r: r.object_key.startswith(prefix))
        for start in range(0, len(matching), size):
            yield matching[start : start + size]

    async def delete_keys(self, keys: Sequence[str]) -> int:
        return sum(self.records.pop(key, None) is not None for key in set(keys))

    async def delete_versions(self, versions: Sequence[tuple[str, str]]) -> int:
        doomed = {
            key
            for key, etag in versions
            if key in self.records and etag in ("", self.records[key].metadata.get("etag"))
        }
        return await self.delete_keys(list(doomed))

    async def usage(self, group_by: GroupBy, user_id: str | None = None) -> list[Usage]:
        totals: dict[tuple[str, str | None], list[int]] = {}
        for record in self._sorted(lambda r: user_id in (None, r.user_id)):
            if group_by == "project" and record.project_id is None:
                continue
            group = (record.user_id, record.project_id if group_by == "project" else None)
            total = totals.setdefault(group, [0, 0])
            total[0] += record.size_bytes
            total[1] += 1
        return [
            Usage(user_id=u, project_id=p, bytes=b, objects=n)
            for (u, p), (b, n) in sorted(totals.items(), key=str)
        ]

    async def save_tombstone(self, tombstone: Tombstone) -> None:
        self.tombstones[tombstone.project_id] = tombstone

    async def tombstone(self, project_id: str) -> Tombstone | None:
        return self.tombstones.get(project_id)

    async def deleted_projects(self, project_ids: Sequence[str]) -> set[str]:
        return {project_id for project_id in project_ids if project_id in self.tombstones}

    async def ping(self) -> None:
        return None

    def _sorted(self, keep: Callable[[FileRecord], bool]) -> list[FileRecord]:
        return sorted((r for r in self.records.values() if keep(r)), key=lambda r: r.object_key)
