"""Reconcile the bucket against the ledger, page by page (memory does not grow with the bucket).

Both sides are walked in key order and merged: in the bucket only (untracked), in the ledger
only (missing), in both with another size or ETag (mismatched). Not dry: untracked objects whose
keys parse are backfilled (the migration path for buckets older than the ledger), records of
missing objects are removed and mismatched ones corrected, each after re-checking the object just
before; an object is deleted only when its key is outside the layout or its project is deleted,
only when older than the grace window, and only if it is unchanged on that last check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from libs.messaging.events import ObjectRef, utcnow
from libs.storage.keys import InvalidKeyError
from libs.storage.objects import FileRecord, StoredObject, file_record
from libs.storage.records import RecordStore
from libs.storage.storage_client import StorageClient

REPORT_LIMIT = 1000  # entries listed per kind; the counts are always complete
LISTING_FIELDS = {"key", "size", "etag", "last_modified"}


@dataclass
class ReconcileReport:
    prefix: str
    dry_run: bool
    untracked: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    mismatched: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"untracked": 0, "missing": 0, "mismatched": 0}
    )
    backfilled: int = 0
    removed_records: int = 0
    updated_records: int = 0
    deleted_objects: int = 0
    kept_young: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    def note(self, kind: str, entry: Any) -> None:
        self.counts[kind] += 1
        listed: list[Any] = getattr(self, kind)
        if len(listed) < REPORT_LIMIT:
            listed.append(entry)

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["truncated"] = any(self.counts[k] > REPORT_LIMIT for k in self.counts)
        return body


async def _items(pages: AsyncIterator[list[Any]]) -> AsyncIterator[Any]:
    async for page in pages:
        for item in page:
            yield item


async def _next(items: AsyncIterator[Any]) -> Any:
    return await anext(items, None)


def backfill_record(head: StoredObject, listed: StoredObject) -> FileRecord | None:
    """The record of an object the ledger never knew (None when its key is outside the
    layout): the listing's version, the HEAD's content type."""
    found = listed.model_copy(
        update={"content_type": head.content_type, "metadata": {"backfilled": "true"}}
    )
    try:
        return file_record(found, listed.last_modified or utcnow())
    except InvalidKeyError:
        return None


@dataclass(frozen=True)
class Reconciler:
    records: RecordStore
    storage: StorageClient
    grace_seconds: float
    now: Callable[[], datetime] = utcnow

    async def run(self, prefix: str, dry_run: bool = True) -> ReconcileReport:
        report = ReconcileReport(prefix, dry_run)
        objects = _items(self.storage.list_pages(prefix))
        records = _items(self.records.prefix_pages(prefix))
        listed, recorded = await _next(objects), await _next(records)
        while listed is not None or recorded is not None:
            if recorded is None or (listed is not None and listed.key < recorded.object_key):
                await self._untracked(report, listed)
                listed = await _next(objects)
            elif listed is None or recorded.object_key < listed.key:
                await self._missing(report, recorded)
                recorded = await _next(records)
            else:
                await self._compare(report, listed, recorded)
                listed, recorded = await _next(objects), await _next(records)
        return report

    async def _untracked(self, report: ReconcileReport, listed: StoredObject) -> None:
        report.note("untracked", listed.model_dump(mode="json", include=LISTING_FIELDS))
        if report.dry_run:
            return
        head = await self.storage.head(listed.key)
        if head is None:  # gone since the listing
            return
        record = backfill_record(head, listed)
        if record and not await self._project_deleted(record.project_id):
            await self.records.upsert_many([record])
            report.backfilled += 1
        elif self._unchanged_and_old(head, listed):
            await self._delete(report, listed)
        else:
            report.kept_young += 1

    async def _missing(self, report: ReconcileReport, recorded: FileRecord) -> None:
        report.note("missing", recorded.object_key)
        if report.dry_run:
            return
        if await self.storage.head(recorded.object_key) is None:  # re-checked: still gone
            report.removed_records += await self.records.delete_keys([recorded.object_key])

    async def _compare(
        self, report: ReconcileReport, listed: StoredObject, rec: FileRecord
    ) -> None:
        if (listed.size, listed.etag) == (rec.size_bytes, rec.metadata.get("etag")):
            return
        entry = {"key": listed.key, "size": listed.size, "etag": listed.etag}
        entry |= {"recorded_size": rec.size_bytes, "recorded_etag": rec.metadata.get("etag")}
        report.note("mismatched", entry)
        if not report.dry_run:
            await self._correct(report, rec)

    async def _correct(self, report: ReconcileReport, rec: FileRecord) -> None:
        head = await self.storage.head(rec.object_key)
        if head is None:
            return
        metadata = {**rec.metadata, "etag": head.etag}
        fixed = rec.model_copy(
            update={"size_bytes": head.size, "metadata": metadata, "updated_at": self.now()}
        )
        await self.records.upsert_many([fixed])
        report.updated_records += 1

    def _unchanged_and_old(self, head: StoredObject, listed: StoredObject) -> bool:
        if head.etag != listed.etag or head.last_modified is None:
            return False
        return self.now() - head.last_modified >= timedelta(seconds=self.grace_seconds)

    async def _delete(self, report: ReconcileReport, listed: StoredObject) -> None:
        reply = await self.storage.delete([ObjectRef(key=listed.key, etag=listed.etag)])
        report.deleted_objects += len(reply.deleted)
        report.failed.extend({"key": f.key, "error": f.error} for f in reply.failed)

    async def _project_deleted(self, project_id: str | None) -> bool:
        return project_id is not None and await self.records.tombstone(project_id) is not None
