"""Tracking's NATS edge: object-created events, written to MongoDB in micro-batches."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from libs.batching import MicroBatcher
from libs.bus import Delivery
from libs.events import ObjectEvent, decode
from libs.records import FileRecord
from services.tracking.service import record_of

log = structlog.get_logger(__name__)


@dataclass
class TrackingHandlers:
    batcher: MicroBatcher[FileRecord]

    async def on_object_created(self, delivery: Delivery) -> None:
        event = decode(ObjectEvent, delivery.data)
        record = record_of(event)
        with structlog.contextvars.bound_contextvars(
            event_id=event.id, user_id=record.user_id, project_id=record.project_id
        ):
            await self.batcher.submit(record)
            log.info("object_tracked", key=record.object_key, size=record.size_bytes)
