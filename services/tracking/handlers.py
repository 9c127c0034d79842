"""Tracking's NATS edges: object events (micro-batched into MongoDB), cleanups, admin requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from libs.errors import CliptrailError, PermanentError
from libs.messaging.batching import MicroBatcher
from libs.messaging.bus import Delivery, Responder
from libs.messaging.events import (
    AdminReply,
    CleanupCommand,
    CleanupRequest,
    ObjectEvent,
    ReconcileCommand,
    decode,
    encode,
)
from libs.storage.records import FileRecord
from services.tracking.service import TrackingService, record_of

log = structlog.get_logger(__name__)


@dataclass
class TrackingHandlers:
    service: TrackingService
    batcher: MicroBatcher[FileRecord]
    deletions: MicroBatcher[tuple[str, str]]

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
            log.info("object_tracked", key=record.object_key, size=record.size_bytes)
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

    async def on_cleanup_command(self, payload: bytes) -> bytes:
        return await _admin(lambda: self.service.admin_cleanup(decode(CleanupCommand, payload)))

    async def on_reconcile_command(self, payload: bytes) -> bytes:
        return await _admin(lambda: self.service.admin_reconcile(decode(ReconcileCommand, payload)))

    def responders(self, cleanup_subject: str, reconcile_subject: str) -> dict[str, Responder]:
        return {
            cleanup_subject: self.on_cleanup_command,
            reconcile_subject: self.on_reconcile_command,
        }


class _Report(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


async def _admin(run: Callable[[], Awaitable[_Report]]) -> bytes:
    try:
        report = await run()
    except PermanentError as exc:
        return encode(AdminReply(error=str(exc), permanent=True))
    except CliptrailError as exc:
        return encode(AdminReply(error=str(exc)))
    return encode(AdminReply(report=report.as_dict()))


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if isinstance(v, int | bool)}
