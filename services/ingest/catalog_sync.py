"""Units of work over a user's catalog. Local SQLite is only a cache: the truth is
`users/{id}/database.sqlite` in the bucket, versioned in its `db-version` metadata.

Every catalog call goes through `read` or `write`, so no route can skip the sync. Any number of
ingest replicas share a user's catalog through NATS KV:

- a write holds the user's lease (one writer across all replicas), checks the bucket (a HEAD),
  downloads a newer database, runs, and is answered only once a snapshot is in the bucket as
  the next version and that version is announced in KV. The PUT is also conditional (If-Match,
  or If-None-Match for a first database) for a store that honours it; 412 reloads and reruns.
- a read looks up the announced version in KV (no lease) and downloads the database when it
  differs from the cached one, so a read on any replica sees every write answered before it.
  With nothing announced (a fresh KV), the bucket is asked and its version announced.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import structlog

from libs.errors import CliptrailError, ConflictError, UnavailableError
from libs.messaging.events import NewObject
from libs.messaging.leases import KvLeases, KvVersions, Lease, Published
from libs.observability.metrics import CATALOG_CONFLICTS
from libs.storage.fetch import ObjectFetcher
from libs.storage.keys import database_key
from libs.storage.objects import StoredObject
from libs.storage.transfer import Condition, Uploader
from services.ingest.catalog_db import (
    CorruptDatabaseError,
    connect,
    database_path,
    migrate,
    schema_behind,
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


def _nothing(_db: sqlite3.Connection) -> None:
    return None


@dataclass(frozen=True)
class Shared:
    """What the replicas share: a lease per user, and the version last announced per user."""

    leases: KvLeases
    versions: KvVersions


class SyncedUnits:
    def __init__(
        self, cache_dir: Path, fetcher: ObjectFetcher, uploader: Uploader, shared: Shared
    ) -> None:
        self._cache_dir = cache_dir
        self._fetcher = fetcher
        self._uploader = uploader
        self._shared = shared
        # One call at a time per user in this process (the lease orders writes across them).
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def read(self, user_id: str, work: Work[T]) -> T:
        async with self._locks[user_id]:
            await self._refresh_for_read(user_id)
            if await asyncio.to_thread(schema_behind, self._path(user_id)):
                await self._write_held(user_id, _nothing)  # stores the migrated schema
            return (await asyncio.to_thread(_run, self._path(user_id), work))[0]

    async def write(self, user_id: str, work: Work[T]) -> T:
        async with self._locks[user_id]:
            return await self._write_held(user_id, work)

    async def _write_held(self, user_id: str, work: Work[T], attempts: int = 8) -> T:
        try:
            async with self._shared.leases.hold(user_id) as lease:
                for _ in range(attempts):
                    try:
                        return await self._write_once(user_id, work, lease)
                    except ConflictError:
                        CATALOG_CONFLICTS.inc()
                        log.info("catalog_conflict_reloading", user_id=user_id)
        except UnavailableError:
            raise
        except CliptrailError as exc:
            raise unavailable("The catalog is busy or unreachable; try again.") from exc
        raise unavailable("The catalog kept changing under this write; try again.")

    async def _write_once(self, user_id: str, work: Work[T], lease: Lease) -> T:
        await self._refresh(user_id, await self._head(user_id, must=True))
        self._save(user_id, self._state(user_id), stale=True)  # until published
        migrated = await asyncio.to_thread(_migrate_file, self._path(user_id))
        result, changed = await asyncio.to_thread(_run, self._path(user_id), work)
        publish = changed or (migrated and self._state(user_id).version > 0)
        await self._publish_if(publish, user_id, lease)
        return result

    async def _publish_if(self, publish: bool | int, user_id: str, lease: Lease) -> None:
        if not publish:
            self._save(user_id, self._state(user_id), stale=False)
            return
        try:
            await self._publish(user_id, lease)
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

    async def _refresh_for_read(self, user_id: str) -> None:
        """Current with the announced version; the bucket is asked only when none is."""
        state = self._state(user_id)
        try:
            announced = await self._shared.versions.get(user_id)
        except CliptrailError as exc:
            if state.stale:
                raise unavailable("The catalog's versions do not answer.") from exc
            log.warning("catalog_version_unknown_serving_cache", user_id=user_id, error=str(exc))
            return
        if announced is not None and announced.etag == state.etag and not state.stale:
            return
        head = await self._head(user_id, must=state.stale or announced is not None)
        if head is not False:
            await self._refresh(user_id, head)
        if announced is None and isinstance(head, StoredObject):
            published = Published(self._state(user_id).version, head.etag)
            await self._shared.versions.seed(user_id, published)

    async def _head(self, user_id: str, must: bool) -> StoredObject | bool | None:
        """The bucket's database (None: there is none); False when it does not answer and
        the cache may serve (`must` False)."""
        try:
            return await self._fetcher.storage.head(database_key(user_id))
        except CliptrailError as exc:
            if must:
                raise unavailable("The catalog's store does not answer.") from exc
            log.warning("catalog_head_failed_serving_cache", user_id=user_id, error=str(exc))
            return False

    async def _refresh(self, user_id: str, head: StoredObject | bool | None) -> None:
        state = self._state(user_id)
        if head is None:
            await self._no_remote(user_id, state)
        elif isinstance(head, StoredObject) and (state.stale or head.etag != state.etag):
            version = int(head.metadata.get(VERSION_META, "0") or 0)
            await self._download(user_id, version, head.etag)

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

    async def _publish(self, user_id: str, lease: Lease) -> None:
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
            await lease.confirm()  # still the only writer, for a lease's length at least
            stored = await self._uploader.put_file(snap, new, condition)
        except ConflictError:
            self._save(user_id, state, stale=True)
            raise
        finally:
            snap.unlink(missing_ok=True)
        self._save(user_id, state, version=state.version + 1, etag=stored.etag, stale=False)
        await self._shared.versions.put(user_id, Published(state.version + 1, stored.etag))
