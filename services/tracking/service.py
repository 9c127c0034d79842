"""Tracking's rules: the ledger of every object (the only code that touches it), project
cleanup, reconciliation, and the ledger's answers to ingest (usage, a project's records)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from libs.errors import PermanentError, TransientError
from libs.messaging.batching import BatchedLookup
from libs.messaging.events import (
    CleanupCommand,
    CleanupRequest,
    ObjectEvent,
    ObjectRef,
    ReconcileCommand,
    RecordsQuery,
    UsageQuery,
)
from libs.observability.metrics import LEDGER_WRITES, RECONCILE_GHOSTS, RECONCILE_ORPHANS
from libs.storage.keys import check_id
from libs.storage.objects import FileRecord, Usage, file_record
from libs.storage.records import RecordStore, Tombstone
from libs.storage.storage_client import StorageClient
from services.tracking.cleanup import CleanupReport, ProjectCleaner
from services.tracking.reconcile import Reconciler, ReconcileReport

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RecordsPage:
    records: list[FileRecord]
    next_cursor: str | None = None
    count: int | None = None


def record_of(event: ObjectEvent) -> FileRecord:
    """The record an event describes; PermanentError when the event contradicts its key."""
    data = event.data
    record = file_record(data.stored_object(), data.eventTime, data.scene_id)
    claimed = (data.user_id, data.project_id, data.video_id, data.file_type)
    found = (record.user_id, record.project_id, record.metadata["video_id"], record.file_type)
    if claimed != found:
        raise PermanentError(f"event fields contradict its key {data.object.key!r}")
    return record


@dataclass(frozen=True)
class TrackingService:
    records: RecordStore
    storage: StorageClient
    reconcile_grace_seconds: float = 3600.0
    _tombstones: BatchedLookup[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tombstones", BatchedLookup(self.records.deleted_projects))

    async def record_batch(self, records: Sequence[FileRecord]) -> None:
        await self.records.upsert_many(records)
        LEDGER_WRITES.labels("upsert").inc(len(records))
        log.info("records_written", count=len(records))

    async def is_deleted(self, project_id: str | None) -> bool:
        """Asked twice per created event: the questions of a burst share one query."""
        return project_id is not None and await self._tombstones.contains(project_id)

    async def remove_late(self, record: FileRecord) -> None:
        """An object that arrived for a deleted project goes too (its record with it)."""
        ref = ObjectRef(key=record.object_key, etag=record.metadata.get("etag") or "")
        reply = await self.storage.delete([ref])
        await self.records.delete_keys(reply.deleted)
        if reply.failed:
            raise TransientError(f"late object not deleted yet: {reply.failed[0].error}")
        log.info("late_object_deleted", key=record.object_key)

    async def forget_batch(self, versions: Sequence[tuple[str, str]]) -> None:
        """Confirmed deletions: drop each record unless it now describes a newer object."""
        await self.records.delete_versions(versions)
        LEDGER_WRITES.labels("delete").inc(len(versions))

    async def clean_project(self, request: CleanupRequest) -> CleanupReport:
        """The durable cleanup after a DELETE; raises (to be retried) while keys remain."""
        tombstone = Tombstone(
            project_id=request.project_id, user_id=request.user_id, deleted_at=request.requested_at
        )
        await self.records.save_tombstone(tombstone)
        report = await self._cleaner.clean(request.user_id, request.project_id)
        await self.records.save_tombstone(tombstone.model_copy(update={"report": report.as_dict()}))
        if report.failed or report.error:
            raise TransientError(report.error or f"{len(report.failed)} objects not deleted yet")
        return report

    async def admin_cleanup(self, command: CleanupCommand) -> CleanupReport:
        user_id = command.user_id or await self._owner(command.project_id)
        return await self._cleaner.clean(
            user_id, command.project_id, command.dry_run, command.delete_records_only
        )

    async def admin_reconcile(self, command: ReconcileCommand) -> ReconcileReport:
        reconciler = Reconciler(self.records, self.storage, self.reconcile_grace_seconds)
        report = await reconciler.run(command.prefix, command.dry_run)
        RECONCILE_ORPHANS.set(report.counts["untracked"])
        RECONCILE_GHOSTS.set(report.counts["missing"])
        return report

    async def usage(self, query: UsageQuery) -> list[Usage]:
        if query.user_id is not None:
            check_id(query.user_id, "user_id")
        return await self.records.usage(query.group_by, query.user_id)

    async def project_records(self, query: RecordsQuery) -> RecordsPage:
        """A page of a project's records (or one video's), and where the next page starts."""
        check_id(query.project_id, "project_id")
        if query.video_id is not None:
            return RecordsPage(await self._video_records(query))
        page = await self.records.project_page(query.project_id, query.after, query.limit + 1)
        more = len(page) > query.limit
        count = await self.records.count(query.project_id) if query.with_count else None
        cursor = page[query.limit - 1].object_key if more else None
        return RecordsPage(page[: query.limit], cursor, count)

    async def _video_records(self, query: RecordsQuery) -> list[FileRecord]:
        check_id(query.video_id or "", "video_id")
        return await self.records.by_video(query.project_id, query.video_id or "")

    async def ping(self) -> None:
        await self.records.ping()

    async def _owner(self, project_id: str) -> str:
        check_id(project_id, "project_id")
        records = await self.records.project_page(project_id, "", 1)
        tombstone = await self.records.tombstone(project_id)
        owner = records[0].user_id if records else tombstone.user_id if tombstone else None
        if owner is None:
            raise PermanentError("unknown project: no records and no tombstone; pass user_id")
        return owner

    @property
    def _cleaner(self) -> ProjectCleaner:
        return ProjectCleaner(self.records, self.storage)
