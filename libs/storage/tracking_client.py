"""Asking tracking for the admin operations over NATS request-reply, typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libs.messaging.bus import EventBus
from libs.messaging.events import AdminReply, CleanupCommand, ReconcileCommand
from libs.messaging.rpc import ask
from libs.messaging.topology import Topology


@dataclass(frozen=True)
class TrackingClient:
    bus: EventBus
    topology: Topology
    timeout: float = 600.0  # a cleanup or reconcile of a large bucket takes a while

    async def cleanup(self, command: CleanupCommand) -> dict[str, Any]:
        reply = await ask(self.bus, self.topology.cleanup_rpc, command, AdminReply, self.timeout)
        return reply.report or {}

    async def reconcile(self, command: ReconcileCommand) -> dict[str, Any]:
        reply = await ask(self.bus, self.topology.reconcile_rpc, command, AdminReply, self.timeout)
        return reply.report or {}
