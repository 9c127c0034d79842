"""Dead letters are visible and recoverable, on the real servers: an admin lists, shows,
replays (to the original subject, with the original headers, then removed) and purges them,
over ingest's admin endpoints (answered by tracking) and with the admin CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from libs.messaging.events import RenderStatus, encode
from libs.messaging.topology import INGEST, RENDER
from libs.runtime.wiring import topology_of
from libs.settings import Settings
from services.tracking.cli import parser, run
from tests.support import (
    bearer,
    connect_nats,
    create_project,
    eventually,
    ingest,
    storage,
    tracking,
    upload,
)

pytestmark = pytest.mark.integration
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def send(settings: Settings, sender: str, subject: str, payload: bytes, msg_id: str) -> None:
    """As a service sends a message, with a trace header."""
    client = await connect_nats(settings, sender)
    try:
        headers = {"Nats-Msg-Id": msg_id, "traceparent": TRACEPARENT}
        await client.jetstream().publish(subject, payload, headers=headers)
    finally:
        await client.close()


async def test_an_admin_sees_replays_and_purges_dead_letters_over_http(
    settings: Settings, bucket: Any, http: ClientSession, small_video: Path
) -> None:
    admin, alice = bearer(settings, "root", admin=True), bearer(settings, "alice")
    topology = topology_of(settings)
    async with tracking(settings), ingest(settings) as base:
        async with storage(settings):
            project = await create_project(http, base, alice)
            video = (await upload(http, base, alice, project, small_video))["video_id"]
        # With storage away the catalog cannot be written: the status is retried, then given up.
        ready = RenderStatus(user_id="alice", project_id=project, video_id=video, status="ready")
        await send(settings, RENDER, topology.render_status, encode(ready), "status-1")
        letters = f"{base}/api/v1/debug/dead-letters"

        async def listed() -> list[dict[str, Any]]:
            async with http.get(letters, headers=admin) as response:
                assert response.status == 200, await response.text()
                found: list[dict[str, Any]] = (await response.json())["letters"]
                return found

        [letter] = await eventually(listed, timeout=60)
        async with storage(settings):
            assert letter["subject"] == topology.render_status
            assert "gave up after" in letter["error"]
            assert letter["headers"]["traceparent"] == TRACEPARENT
            async with http.get(f"{letters}/{letter['seq']}", headers=alice) as response:
                assert response.status == 403
            async with http.get(f"{letters}/{letter['seq']}", headers=admin) as response:
                assert (await response.json())["letters"] == [letter]
            # storage is back: the replayed status is applied this time
            async with http.post(f"{letters}/{letter['seq']}/replay", headers=admin) as response:
                assert response.status == 200, await response.text()
                assert (await response.json())["removed"] == 1
            await eventually(lambda: _status_is(http, base, alice, project, video, "ready"))
            assert await listed() == []
            async with http.get(f"{letters}/{letter['seq']}", headers=admin) as response:
                assert response.status == 404

            await send(settings, INGEST, topology.cleanup, b"{not json", "poison-1")
            await eventually(listed)
            async with http.delete(letters, headers=admin) as response:
                assert (await response.json())["removed"] == 1
            assert await listed() == []


async def _status_is(
    http: ClientSession, base: str, alice: dict[str, str], project: str, video: str, status: str
) -> bool:
    url = f"{base}/api/v1/projects/{project}/videos/{video}"
    async with http.get(url, headers=alice) as response:
        return bool((await response.json())["status"] == status)


async def test_the_admin_cli_lists_shows_and_purges_dead_letters(settings: Settings) -> None:
    cleanup = topology_of(settings).cleanup
    async with tracking(settings):
        await send(settings, INGEST, cleanup, b"{not json", "poison-1")
        await send(settings, INGEST, cleanup, b"[]", "poison-2")

        async def cli(*argv: str) -> Any:
            return await run(settings, parser().parse_args(["deadletters", *argv]))

        listed = await eventually(lambda: _when(cli("list"), lambda r: len(r["letters"]) == 2))
    first, second = listed["letters"]
    assert (await cli("show", str(second["seq"])))["letters"] == [second]
    assert (await cli("list", "--after", str(first["seq"])))["letters"] == [second]
    assert (await cli("purge", str(first["seq"])))["removed"] == 1
    assert (await cli("purge"))["removed"] == 1
    assert (await cli("list"))["letters"] == []


async def _when(answer: Any, ready: Any) -> Any:
    result = await answer
    return result if ready(result) else None
