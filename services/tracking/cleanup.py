"""Project cleanup: every tracked key first (exact), then the prefix scan (fallback).

Idempotent and resumable: it deletes what exists now and reports what it could not; running it
again after a crash, or twice, ends in the same state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from libs.errors import TransientError
from libs.messaging.events import KeyFailure, ObjectRef
from libs.observability.metrics import CLEANUP_DELETED
from libs.storage.keys import project_prefix
from libs.storage.objects import FileRecord, StoredObject
from libs.storage.records import RecordStore
from libs.storage.storage_client import StorageClient

# Pages of confirmed-gone keys whose record deletions may wait (a page's keys: ~100 KB).
REMOVAL_BACKLOG = 100


@dataclass
class CleanupReport:
    project_id: str
    user_id: str
    dry_run: bool
    delete_records_only: bool
    tracked_keys: int = 0
    fallback_keys: int = 0
    deleted_objects: int = 0
    deleted_records: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None  # a phase that could not finish (storage or MongoDB away)
    untracked: list[str] = field(default_factory=list)
    tracked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        tracked = body.pop("tracked")
        if self.dry_run:
            body["keys"] = {"tracked": tracked, "fallback": self.untracked}
        return body


def _ref(record: FileRecord) -> ObjectRef:
    return ObjectRef(key=record.object_key, etag=record.metadata.get("etag") or "")


@dataclass(frozen=True)
class ProjectCleaner:
    records: RecordStore
    storage: StorageClient
    # Pages (1,000 keys each) whose DeleteObjects are in flight at once: over a long round
    # trip to R2 one page after another would leave the bucket idle between them.
    deletes_at_once: int = 8
    removals_at_once: int = 4

    async def clean(
        self, user_id: str, project_id: str, dry_run: bool = False, records_only: bool = False
    ) -> CleanupReport:
        report = CleanupReport(project_id, user_id, dry_run, records_only)
        removals = _Removals(self.records, report, self.deletes_at_once, self.removals_at_once)
        try:
            await self._phases(report, removals)
        except TransientError as exc:
            report.error = str(exc)
        return report

    async def _phases(self, report: CleanupReport, removals: _Removals) -> None:
        try:
            await self._tracked_phase(report, removals)
            await removals.drain_objects()  # the prefix scan must not see keys being deleted
            if not report.delete_records_only:
                await self._prefix_phase(report, removals)
        finally:
            await removals.finish()

    async def _tracked_phase(self, report: CleanupReport, removals: _Removals) -> None:
        async for batch in self.records.project_pages(report.project_id):
            # Ids are unique per server, but an admin may name the wrong owner: never cross users.
            page = [record for record in batch if record.user_id == report.user_id]
            report.tracked_keys += len(page)
            if not page:
                continue
            if report.dry_run:
                report.tracked.extend(record.object_key for record in page)
            elif report.delete_records_only:
                await removals.start([record.object_key for record in page])
            else:
                await removals.objects.start(
                    self._delete(report, removals, [_ref(record) for record in page])
                )

    async def _prefix_phase(self, report: CleanupReport, removals: _Removals) -> None:
        prefix = project_prefix(report.user_id, report.project_id)
        async for page in self.storage.list_pages(prefix):
            known = await self.records.get_many([listed.key for listed in page])
            untracked = [listed for listed in page if listed.key not in known]
            report.fallback_keys += len(untracked)
            report.untracked.extend(listed.key for listed in untracked)
            if untracked and not report.dry_run:
                refs = [_listed_ref(listed) for listed in untracked]
                await self._delete(report, removals, refs)

    async def _delete(
        self, report: CleanupReport, removals: _Removals, refs: Sequence[ObjectRef]
    ) -> None:
        """Delete through storage; records go only for keys the bucket confirmed gone."""
        reply = await self.storage.delete(refs)
        report.deleted_objects += len(reply.deleted)
        CLEANUP_DELETED.inc(len(reply.deleted))
        report.failed.extend(_failure(failure) for failure in reply.failed)
        await removals.start(reply.deleted)


class _InFlight:
    """At most `at_once` tasks running and `waiting` more started behind them; `start` waits
    for room. `finish` awaits them all and raises the first failure once none is left."""

    def __init__(self, at_once: int, waiting: int = 0) -> None:
        self._admitted = asyncio.Semaphore(at_once + waiting)
        self._running = asyncio.Semaphore(at_once)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, work: Coroutine[Any, Any, None]) -> None:
        await self._admitted.acquire()
        self._tasks.append(asyncio.create_task(self._run(work)))

    async def _run(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            async with self._running:
                await work
        finally:
            work.close()  # a no-op once it ran; cancelled while waiting, it never will
            self._admitted.release()

    async def finish(self) -> None:
        tasks, self._tasks = self._tasks, []
        failures = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if r]
        if failures:
            raise failures[0]


class _Removals:
    """Object deletions (a few pages at once) and, behind them, the record deletions of the
    keys each one confirmed gone, so the bucket empties sooner; all awaited before the report
    is final. A record deletion costs the database more than reading the page did, so object
    deletions queue theirs and go on; they wait only once `backlog` pages are queued."""

    def __init__(
        self, records: RecordStore, report: CleanupReport, deletes: int, removals: int
    ) -> None:
        self._records = records
        self._report = report
        self.objects = _InFlight(deletes)
        self._records_in_flight = _InFlight(removals, waiting=REMOVAL_BACKLOG)

    async def start(self, keys: list[str]) -> None:
        if keys:
            await self._records_in_flight.start(self._remove(keys))

    async def _remove(self, keys: list[str]) -> None:
        self._report.deleted_records += await self._records.delete_keys(keys)

    async def drain_objects(self) -> None:
        await self.objects.finish()

    async def finish(self) -> None:
        try:
            await self.objects.finish()
        finally:
            await self._records_in_flight.finish()


def _listed_ref(listed: StoredObject) -> ObjectRef:
    return ObjectRef(key=listed.key, etag=listed.etag)


def _failure(failure: KeyFailure) -> dict[str, str]:
    return {"key": failure.key, "error": failure.error}
