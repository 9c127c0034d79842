"""Asking tracking, the only service that touches the ledger, over NATS request-reply, typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libs.messaging.bus import EventBus
from libs.messaging.events import (
    AdminReply,
    CleanupCommand,
    DeadLetterCommand,
    DeadLetterReply,
    Ping,
    PingReply,
    ReconcileCommand,
    RecordsQuery,
    RecordsReply,
    UsageQuery,
    UsageReply,
)
from libs.messaging.rpc import ask
from libs.messaging.topology import Topology
from libs.storage.objects import FileRecord, GroupBy, Usage

QUERY_SECONDS = 10.0
ADMIN_SECONDS = 600.0  # a cleanup or reconcile of a large bucket takes a while


@dataclass(frozen=True)
class TrackingClient:
    bus: EventBus
    topology: Topology

    async def cleanup(self, command: CleanupCommand) -> dict[str, Any]:
        reply = await ask(self.bus, self.topology.cleanup_rpc, command, AdminReply, ADMIN_SECONDS)
        return reply.report or {}

    async def reconcile(self, command: ReconcileCommand) -> dict[str, Any]:
        subject = self.topology.reconcile_rpc
        reply = await ask(self.bus, subject, command, AdminReply, ADMIN_SECONDS)
        return reply.report or {}

    async def usage(self, group_by: GroupBy, user_id: str | None = None) -> list[Usage]:
        query = UsageQuery(group_by=group_by, user_id=user_id)
        reply = await ask(self.bus, self.topology.usage_rpc, query, UsageReply, QUERY_SECONDS)
        return reply.usage

    async def records(self, query: RecordsQuery) -> RecordsReply:
        return await ask(self.bus, self.topology.records_rpc, query, RecordsReply, QUERY_SECONDS)

    async def video_records(self, project_id: str, video_id: str) -> list[FileRecord]:
        query = RecordsQuery(project_id=project_id, video_id=video_id)
        return (await self.records(query)).records

    async def dead_letters(self, command: DeadLetterCommand) -> DeadLetterReply:
        subject = self.topology.deadletters_rpc
        return await ask(self.bus, subject, command, DeadLetterReply, QUERY_SECONDS)

    async def ping(self) -> None:
        await ask(self.bus, self.topology.tracking_ping, Ping(), PingReply, QUERY_SECONDS)
