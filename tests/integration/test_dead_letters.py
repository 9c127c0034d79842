"""Dead letters are visible and recoverable, on the real servers: an admin lists, shows,
replays (to the original subject, with the original headers, then removed) and purges them,
over ingest's admin endpoints (answered by tracking) and with the admin CLI."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession

from libs.messaging.events import PushRequest, encode
from libs.messaging.topology import INGEST
from libs.runtime.wiring import topology_of
from libs.settings import Settings
from libs.storage.keys import source_key
from services.tracking.cli import parser, run
from tests.support import bearer, connect_nats, eventually, stack, storage

pytestmark = pytest.mark.integration
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def send_push(settings: Settings, request: PushRequest | bytes, msg_id: str) -> None:
    """As ingest sends a push, with a trace header."""
    client = await connect_nats(settings, INGEST)
    try:
        payload = request if isinstance(request, bytes) else encode(request)
        headers = {"Nats-Msg-Id": msg_id, "traceparent": TRACEPARENT}
        await client.jetstream().publish(topology_of(settings).push, payload, headers=headers)
    finally:
        await client.close()


async def test_an_admin_sees_replays_and_purges_dead_letters_over_http(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    admin, alice = bearer(settings, "root", admin=True), bearer(settings, "alice")
    key = source_key("alice", "p1", "v1", "mp4")
    late = PushRequest(local_path="uploads/late.mp4", key=key, content_type="video/mp4")
    async with stack(settings) as base:
        letters = f"{base}/api/v1/debug/dead-letters"

        async def listed() -> list[dict[str, Any]]:
            async with http.get(letters, headers=admin) as response:
                assert response.status == 200, await response.text()
                found: list[dict[str, Any]] = (await response.json())["letters"]
                return found

        await send_push(settings, late, "late-1")  # its work file is not there yet
        [letter] = await eventually(listed)
        assert letter["subject"] == topology_of(settings).push
        assert "local file to push is missing" in letter["error"]
        assert letter["headers"]["traceparent"] == TRACEPARENT
        async with http.get(f"{letters}/{letter['seq']}", headers=alice) as response:
            assert response.status == 403
        async with http.get(f"{letters}/{letter['seq']}", headers=admin) as response:
            assert (await response.json())["letters"] == [letter]

        work_file = settings.work_dir / late.local_path
        work_file.parent.mkdir(parents=True, exist_ok=True)
        work_file.write_bytes(b"video bytes")
        async with http.post(f"{letters}/{letter['seq']}/replay", headers=admin) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["removed"] == 1
        stored = await eventually(lambda: bucket.head(key))
        assert stored.size == len(b"video bytes")
        assert await listed() == []
        async with http.get(f"{letters}/{letter['seq']}", headers=admin) as response:
            assert response.status == 404

        await send_push(settings, b"{not json", "poison-1")
        await eventually(listed)
        async with http.delete(letters, headers=admin) as response:
            assert (await response.json())["removed"] == 1
        assert await listed() == []


async def test_the_admin_cli_lists_shows_and_purges_dead_letters(settings: Settings) -> None:
    async with storage(settings):
        await send_push(settings, b"{not json", "poison-1")
        await send_push(settings, b"[]", "poison-2")

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
