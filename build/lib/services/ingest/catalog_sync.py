"""Units of work over a user's catalog. Local SQLite is only a cache: the truth is
`users/{id}/database.sqlite` in the bucket, versioned in its `db-version` metadata.

Every catalog call goes through `read` or `write`, so no route can skip the sync. Before a call
the bucket's version is checked (a HEAD, cached for a moment; always fresh before a write) and a
newer database is downloaded, verified and swapped in. A write that changed rows is answered
only after a snapshot of the database is in the bucket as the next version, written on the
condition that nobody else wrote since (If-Match, or If-None-Match for a first database). When
another instance won (412), the database is reloaded and the write run again on it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import structlog

from libs.errors import CliptrailError, ConflictError, UnavailableError
from libs.messaging.events import NewObject
from libs.observability.metrics import CATALOG_CONFLICTS
from libs.storage.fetch import ObjectFetcher
from libs.storage.keys import database_key
from libs.storage.transfer import Condition, Uploader
from services.ingest.catalog_db import (
    CorruptDatabaseError,
    connect,
    database_path,
    migrate,
    snapshot,
    verify,
)

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]
log = structlog.get_logger(__name__)
VERSION_META = "db-version"
CONTENT_TYPE = "application/vnd.sqlite3"


class CatalogUnits(Protocol):
    async def read(self, user_id: str, work: Work[T]) -> T: ...

    async def write(self, user_id: str, work: Work[T]) -> T: ...


def _run(path: Path, work: Work[T]) -> tuple[T, int]:
    """Run `work` in one transaction; return its result and the rows it changed."""
    with connect(path) as db:
        migrate(db)
        before = db.total_changes
        result = work(db)
        return result, db.total_changes - before


def _migrate_file(path: Path) -> bool:
    with connect(path) as db:
        return migrate(db)


class LocalUnits:
    """The catalog as local files only (CLIPTRAIL_CATALOG_SYNC=0; measuring the sync's cost)."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        # One call at a time per user: a first call creates (migrates) the file, and two at
        # once would both try.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def read(self, user_id: str, work: Work[T]) -> T:
        path = database_path(self._cache_dir, user_id)
        async with self._locks[user_id]:
            return (await asyncio.to_thread(_run, path, work))[0]

    write = read


@dataclass
class SyncState:
    version: int = 0
    etag: str | None = None
    stale: bool = False  # the local file may hold what the bucket does not: reload it


def unavailable(detail: str) -> UnavailableError:
    return UnavailableError(detail, title="Catalog unavailable")


class SyncedUnits:
    def __init__(
        self, cache_dir: Path, fetcher: ObjectFetcher, uploader: Uploader, head_ttl: float = 2.0
    ) -> None:
        self._cache_dir = cache_dir
        self._fetcher = fetcher
        self._uploader = uploader
        self._head_ttl = head_ttl
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._checked: dict[str, float] = {}

    async def read(self, user_id: str, work: Work[T]) -> T:
        async with self._locks[user_id]:
            await self._refresh(user_id, for_write=False)
            return (await asyncio.to_thread(_run, self._path(user_id), work))[0]

    async def write(self, user_id: str, work: Work[T], attempts: int = 8) -> T:
        async with self._locks[user_id]:
            for _ in range(attempts):
                try:
                    return await self._write_once(user_id, work)
                except ConflictError:
                    CATALOG_CONFLICTS.inc()
                    log.info("catalog_conflict_reloading", user_id=user_id)
            raise unavailable("The catalog kept changing under this write; try again.")

    async def _write_once(self, user_id: str, work: Work[T]) -> T:
        await self._refresh(user_id, for_write=True)
        self._save(user_id, self._state(user_id), stale=True)  # until published
        result, changed = await asyncio.to_thread(_run, self._path(user_id), work)
        await self._publish_if(changed, user_id)
        return result

    async def _publish_if(self, changed: int, user_id: str) -> None:
        if not changed:
            self._save(user_id, self._state(user_id), stale=False)
            return
        try:
            await self._publish(user_id)
        except ConflictError:
            raise
        except CliptrailError as exc:
            raise unavailable("The change could not be stored; nothing was changed.") from exc

    def _path(self, user_id: str) -> Path:
        return database_path(self._cache_dir, user_id)

    def _state(self, user_id: str) -> SyncState:
        sidecar = self._path(user_id).with_name("sync.json")
        return SyncState(**json.loads(sidecar.read_text())) if sidecar.exists() else SyncState()

    def _save(self, user_id: str, state: SyncState, **changes: object) -> SyncState:
        state = SyncState(**{**asdict(state), **changes})
        sidecar = self._path(user_id).with_name("sync.json")
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        temporary = sidecar.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state)))
        temporary.replace(sidecar)
        return state

    async def _refresh(self, user_id: str, for_write: bool) -> None:
        state = self._state(user_id)
        recent = time.monotonic() - self._checked.get(user_id, -1e9) < self._head_ttl
        if recent and not for_write and not state.stale:
            return
        try:
            head = await self._fetcher.storage.head(database_key(user_id))
        except CliptrailError as exc:
            if for_write or state.stale:
                raise unavailable("The catalog's store does not answer.") from exc
            log.warning("catalog_head_failed_serving_cache", user_id=user_id, error=str(exc))
            return
        if head is None:
            await self._no_remote(user_id, state)
        elif state.stale or head.etag != state.etag:
            version = int(head.metadata.get(VERSION_META, "0") or 0)
            await self._download(user_id, version, head.etag)
        await self._migrate(user_id)
        self._checked[user_id] = time.monotonic()

    async def _no_remote(self, user_id: str, state: SyncState) -> None:
        if state.version > 0:
            log.error("remote_catalog_missing", user_id=user_id, local_version=state.version)
            raise unavailable("The catalog is missing from the bucket; it was not recreated.")
        if state.stale:  # changes that never reached the bucket
            self._path(user_id).unlink(missing_ok=True)
            self._save(user_id, state, stale=False)

    async def _download(self, user_id: str, version: int, etag: str) -> None:
        path = self._path(user_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        incoming = path.with_name(f"incoming-{uuid.uuid4().hex}.sqlite")
        try:
            await self._fetcher.download(database_key(user_id), incoming)
            await asyncio.to_thread(verify, incoming)
            incoming.replace(path)  # atomic: readers see the old or the new file, whole
        except CorruptDatabaseError as exc:
            log.error("remote_catalog_corrupt", user_id=user_id, error=str(exc))
            raise unavailable("The catalog in the bucket is damaged; it was not loaded.") from exc
        finally:
            incoming.unlink(missing_ok=True)
        self._save(user_id, SyncState(), version=version, etag=etag, stale=False)
        log.info("catalog_loaded", user_id=user_id, version=version)

    async def _migrate(self, user_id: str) -> None:
        """An older schema is migrated on load and stored as the next version."""
        migrated = await asyncio.to_thread(_migrate_file, self._path(user_id))
        if migrated and self._state(user_id).version > 0:
            await self._publish(user_id)

    async def _publish(self, user_id: str) -> None:
        state = self._state(user_id)
        snap = self._cache_dir / "snapshots" / f"{user_id}-{uuid.uuid4().hex}.sqlite"
        new = NewObject(
            key=database_key(user_id),
            content_type=CONTENT_TYPE,
            metadata={VERSION_META: str(state.version + 1)},
        )
        condition = Condition(if_match=state.etag, if_none_match=state.etag is None)
        try:
            await asyncio.to_thread(snapshot, self._path(user_id), snap)
            stored = await self._uploader.put_file(snap, new, condition)
        except ConflictError:
            self._save(user_id, state, stale=True)
            raise
        finally:
            snap.unlink(missing_ok=True)
        self._save(user_id, state, version=state.version + 1, etag=stored.etag, stale=False)
