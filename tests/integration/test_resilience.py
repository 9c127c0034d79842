"""Nothing lost: outages, restarts, redeliveries and poison messages, on real servers."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from libs.messaging.events import ObjectEvent, PushRequest, decode, encode
from libs.messaging.topology import INGEST, STORAGE
from libs.runtime.wiring import topology_of
from libs.settings import Settings
from tests.support import (
    MEDIA,
    bearer,
    connect_nats,
    create_project,
    eventually,
    ingest,
    make_raw_video,
    service_bus,
    spawn,
    storage,
    tracking,
    upload,
)


async def _stored_events(settings: Settings, count: int) -> list[ObjectEvent]:
    """Read the first `count` created events of sources straight from the stream."""
    topology = topology_of(settings)
    client = await connect_nats(settings)
    try:
        sub = await client.jetstream().pull_subscribe(topology.object_created, durable=None)
        messages = await sub.fetch(50, timeout=5)
        events = [decode(ObjectEvent, m.data) for m in messages]
        return [e for e in events if e.data.file_type == "source"][:count]
    finally:
        await client.close()


async def _keys(collection: Any) -> list[str]:
    return sorted([doc["object_key"] async for doc in collection.find(MEDIA)])


async def _count(collection: Any, expected: int) -> bool:
    return await collection.count_documents(MEDIA) == expected


async def test_tracking_outage_loses_no_record(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with storage(settings), ingest(settings) as base:
        project_id = await create_project(http, base, alice)
        keys = [
            (await upload(http, base, alice, project_id, small_video))["r2_key"] for _ in range(5)
        ]
        for key in keys:
            await eventually(lambda key=key: bucket.head(key))
        assert await records_collection.count_documents(MEDIA) == 0
        async with tracking(settings):
            await eventually(lambda: _count(records_collection, 5))
    assert await _keys(records_collection) == sorted(keys)


async def test_duplicate_events_leave_one_record_with_the_same_values(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with storage(settings), tracking(settings), ingest(settings) as base:
        project_id = await create_project(http, base, alice)
        key = (await upload(http, base, alice, project_id, small_video))["r2_key"]
        first = await eventually(
            lambda: records_collection.find_one({"object_key": key}, {"_id": 0})
        )
        [event] = await _stored_events(settings, 1)
        async with service_bus(settings, STORAGE) as bus:
            # As NATS dedups by Nats-Msg-Id, a replay needs a fresh id to reach tracking at all.
            for attempt in range(2):
                await bus.publish(
                    bus.topology.object_created, encode(event), msg_id=f"replay-{attempt}"
                )
        await asyncio.sleep(1.0)
        again = await records_collection.find_one({"object_key": key}, {"_id": 0})
    assert await records_collection.count_documents(MEDIA) == 1
    assert again == first


async def test_storage_killed_mid_queue_loses_nothing(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, tmp_path: Path
) -> None:
    video = make_raw_video(tmp_path / "big.mkv", megabytes=12)
    # The push queue is under test, so uploads must be accepted while storage is down: the
    # catalog stays local here (with the sync, an upload is answered only once storage has it).
    update = {"multipart_part_bytes": 5 * 1024 * 1024, "catalog_sync": False}
    settings = settings.model_copy(update=update)
    alice = bearer(settings, "alice")
    log = tmp_path / "storage.log"
    async with tracking(settings), ingest(settings) as base:
        project_id = await create_project(http, base, alice)
        keys = [(await upload(http, base, alice, project_id, video))["r2_key"] for _ in range(10)]
        process = spawn("services.storage.main", settings, log)
        await eventually(lambda: _at_least(records_collection, 1), timeout=60, interval=0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert await records_collection.count_documents(MEDIA) < len(keys), "killed too late"
        restarted = spawn("services.storage.main", settings, log)
        try:
            await eventually(lambda: _count(records_collection, len(keys)), timeout=90)
        finally:
            restarted.terminate()
            restarted.wait(10)
    assert await _keys(records_collection) == sorted(keys)
    for key in keys:
        assert (await bucket.head(key)).size == video.stat().st_size


async def _at_least(collection: Any, count: int) -> bool:
    return await collection.count_documents(MEDIA) >= count


async def test_poison_push_requests_are_dead_lettered_with_the_reason(
    settings: Settings, bucket: Any
) -> None:
    topology = topology_of(settings)
    bad_key = PushRequest(
        local_path="uploads/x.mp4", key="users/../etc/passwd", content_type="video/mp4"
    )
    async with storage(settings), service_bus(settings, INGEST) as bus:
        await bus.publish(topology.push, b"{not json", msg_id="poison-1")
        await bus.publish(topology.push, encode(bad_key), msg_id="poison-2")
        letters = await eventually(lambda: _dead_letters(settings, 2))
    reasons = sorted(headers["Cliptrail-Error"] for headers in letters)
    assert "malformed PushRequest" in reasons[0]
    assert "not a cliptrail object key" in reasons[1]


async def _dead_letters(settings: Settings, count: int) -> list[dict[str, str]]:
    topology = topology_of(settings)
    client = await connect_nats(settings)
    try:
        info = await client.jetstream().stream_info(topology.dead_letter_stream)
        if info.state.messages < count:
            return []
        messages = [
            await client.jetstream().get_msg(topology.dead_letter_stream, seq)
            for seq in range(1, count + 1)
        ]
        return [dict(m.headers or {}) for m in messages]
    finally:
        await client.close()


async def test_a_push_whose_file_vanished_marks_the_video_failed(
    settings: Settings, bucket: Any, http: ClientSession, small_video: Path
) -> None:
    settings = settings.model_copy(update={"catalog_sync": False})  # accepted with storage down
    alice = bearer(settings, "alice")
    async with ingest(settings) as base:
        project_id = await create_project(http, base, alice)
        answer = await upload(http, base, alice, project_id, small_video)
        for path in (settings.work_dir / "uploads").iterdir():
            path.unlink()
        async with storage(settings):
            url = f"{base}/api/v1/projects/{project_id}/videos/{answer['video_id']}"

            async def failed() -> dict[str, Any] | None:
                async with http.get(url, headers=alice) as response:
                    video: dict[str, Any] = await response.json()
                return video if video["status"] == "failed" else None

            video = await eventually(failed)
    assert "missing" in video["error"]
    assert video["url"] is None
    assert await bucket.head(answer["r2_key"]) is None
