"""Tracking's NATS edges: object events (micro-batched into MongoDB), cleanups, and the
request-reply answers (admin commands, ledger queries); each decodes, calls the service and
makes the reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from libs.messaging.batching import MicroBatcher
from libs.messaging.bus import Delivery
from libs.messaging.events import (
    AdminReply,
    CleanupCommand,
    CleanupRequest,
    DeadLetterCommand,
    DeadLetterReply,
    ObjectEvent,
    Ping,
    PingReply,
    ReconcileCommand,
    RecordsQuery,
    RecordsReply,
    UsageQuery,
    UsageReply,
    decode,
)
from libs.storage.objects import FileRecord
from services.tracking.deadletters import DeadLetters
from services.tracking.service import TrackingService, record_of

log = structlog.get_logger(__name__)


@dataclass
class TrackingHandlers:
    service: TrackingService
    batcher: MicroBatcher[FileRecord]
    deletions: MicroBatcher[tuple[str, str]]
    dead_letters: DeadLetters

    async def on_object_created(self, delivery: Delivery) -> None:
        event = decode(ObjectEvent, delivery.data)
        record = record_of(event)
        with structlog.contextvars.bound_contextvars(
            event_id=event.id, user_id=record.user_id, project_id=record.project_id
        ):
            if await self.service.is_deleted(record.project_id):
                await self.service.remove_late(record)
                return
            await self.batcher.submit(record)
            # Debug: a burst is thousands of these; the batch's write is logged at info.
            log.debug("object_tracked", key=record.object_key, size=record.size_bytes)
            # A cleanup may have started while this record was being written.
            if await self.service.is_deleted(record.project_id):
                await self.service.remove_late(record)

    async def on_object_deleted(self, delivery: Delivery) -> None:
        data = decode(ObjectEvent, delivery.data).data
        await self.deletions.submit((data.object.key, data.object.eTag))

    async def on_cleanup(self, delivery: Delivery) -> None:
        request = decode(CleanupRequest, delivery.data)
        with structlog.contextvars.bound_contextvars(
            user_id=request.user_id, project_id=request.project_id
        ):
            report = await self.service.clean_project(request)
            log.info("project_cleaned", **_summary(report.as_dict()))

    async def cleanup_command(self, command: CleanupCommand) -> AdminReply:
        return AdminReply(report=(await self.service.admin_cleanup(command)).as_dict())

    async def reconcile_command(self, command: ReconcileCommand) -> AdminReply:
        return AdminReply(report=(await self.service.admin_reconcile(command)).as_dict())

    async def usage(self, query: UsageQuery) -> UsageReply:
        return UsageReply(usage=await self.service.usage(query))

    async def records(self, query: RecordsQuery) -> RecordsReply:
        page = await self.service.project_records(query)
        return RecordsReply(records=page.records, next_cursor=page.next_cursor, count=page.count)

    async def ping(self, _request: Ping) -> PingReply:
        await self.service.ping()
        return PingReply()

    async def dead_letters_command(self, command: DeadLetterCommand) -> DeadLetterReply:
        return await self.dead_letters.run(command)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if isinstance(v, int | bool)}
