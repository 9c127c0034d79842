"""Render statuses carry a sequence: a late `rendering` never overwrites `ready`, while a later
render request of the same video still moves it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from libs.messaging.permissions import ADMIN
from libs.messaging.topology import INGEST, RENDER
from libs.settings import Settings
from services.render.handlers import RenderHandlers
from tests.integration.test_clips_listing import render_request
from tests.support import bearer, create_project, eventually, service_bus, stack, upload


async def settled(bus: Any) -> bool:
    """ingest's render-status consumer has nothing pending or in hand."""
    spec = bus.topology.consumer_of(INGEST, bus.topology.render_status)
    backlog = await bus.backlog(spec)
    return backlog.pending == 0 and backlog.ack_pending == 0


async def test_a_late_rendering_leaves_the_video_ready(
    settings: Settings, bucket: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with (
        stack(settings) as base,
        service_bus(settings, RENDER) as bus,
        service_bus(settings, ADMIN) as admin,
    ):
        project = await create_project(http, base, alice)
        video = (await upload(http, base, alice, project, small_video))["video_id"]
        request = await render_request(settings)
        url = f"{base}/api/v1/projects/{project}/videos/{video}"

        async def status() -> str:
            async with http.get(url, headers=alice) as response:
                return str((await response.json())["status"])

        # The render side's own reporter (it only publishes): delivery 1 of the request.
        handlers = RenderHandlers(None, bus, bus.topology)  # type: ignore[arg-type]
        first = handlers.reporter(request, "first", delivery=1)
        await first("ready", None)
        await eventually(lambda: _is(status, "ready"))
        await first("rendering", None)  # late: published after the ready it preceded
        await eventually(lambda: settled(admin))
        assert await status() == "ready"

        later = request.model_copy(update={"requested_at": request.requested_at + timedelta(1)})
        await handlers.reporter(later, "again", delivery=1)("rendering", None)
        await eventually(lambda: _is(status, "rendering"))


async def _is(status: Any, expected: str) -> bool:
    return bool(await status() == expected)
