"""Render's NATS edge: render requests in, render statuses out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import structlog

from libs.errors import CliptrailError
from libs.messaging.bus import Delivery, EventBus
from libs.messaging.events import RenderRequest, RenderState, RenderStatus, decode, encode
from libs.messaging.topology import Topology
from services.render.service import RenderService, Report

log = structlog.get_logger(__name__)


def attempt_token(delivery: Delivery) -> str:
    """Distinct for every delivery of every request, so that JetStream's dedup never swallows
    the statuses of a retry or of a re-render (the same request under a new msg id)."""
    request_id = delivery.headers.get("Nats-Msg-Id") or hashlib.sha256(delivery.data).hexdigest()
    digest = hashlib.sha256(request_id.encode()).hexdigest()[:12]
    return f"{digest}-{delivery.num_delivered}"


@dataclass
class RenderHandlers:
    service: RenderService
    bus: EventBus
    topology: Topology

    async def on_render_requested(self, delivery: Delivery) -> None:
        request = decode(RenderRequest, delivery.data)
        with structlog.contextvars.bound_contextvars(
            video_id=request.video_id, project_id=request.project_id, user_id=request.user_id
        ):
            await self.service.render(request, self.reporter(request, attempt_token(delivery)))

    async def on_render_dead(self, delivery: Delivery, reason: str) -> None:
        """A request render gave up on still ends the video's render: failed, with the reason."""
        try:
            request = decode(RenderRequest, delivery.data)
        except CliptrailError:
            return
        report = self.reporter(request, f"{attempt_token(delivery)}-dead")
        await report("failed", f"render stopped: {reason}")

    def reporter(self, request: RenderRequest, attempt: str) -> Report:
        async def report(status: RenderState, error: str | None) -> None:
            message = RenderStatus(
                user_id=request.user_id,
                project_id=request.project_id,
                video_id=request.video_id,
                status=status,
                error=error,
            )
            msg_id = f"render-status:{request.video_id}:{status}:{attempt}"
            await self.bus.publish(self.topology.render_status, encode(message), msg_id=msg_id)
            log.info("render_status", status=status, error=error)

        return report
