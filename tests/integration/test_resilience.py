"""Nothing lost: outages, restarts, redeliveries and poison messages, on real servers."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from libs.messaging.events import CleanupRequest, ObjectEvent, decode, encode
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


async def test_storage_killed_during_uploads_loses_nothing_accepted_and_leaks_nothing(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, tmp_path: Path
) -> None:
    video = make_raw_video(tmp_path / "big.mkv", megabytes=24)
    # Small parts so that every upload is several parts long; a sweep that aborts what the
    # killed storage left open as soon as it is a second old.
    update = {"multipart_part_bytes": 5 * 1024 * 1024, "multipart_abandoned_seconds": 1.0}
    settings = settings.model_copy(update=update | {"multipart_sweep_seconds": 0.5})
    alice = bearer(settings, "alice")
    log = tmp_path / "storage.log"
    process = spawn("services.storage.main", settings, log)
    async with tracking(settings), ingest(settings) as base:
        project_id = await eventually(lambda: _created_project(http, base, alice), timeout=60)
        uploads = [
            asyncio.create_task(_upload_status(http, base, alice, project_id, video))
            for _ in range(6)
        ]
        await eventually(lambda: _open_uploads(bucket), timeout=60, interval=0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        answers = await asyncio.gather(*uploads)
        assert any(status == 503 for status, _ in answers), "killed too late: nothing failed"
        restarted = spawn("services.storage.main", settings, log)
        try:
            accepted = [key for status, key in answers if status == 202]
            for status, _ in answers:
                if status == 503:  # what a client does with a 503 and its Retry-After
                    accepted.append((await upload(http, base, alice, project_id, video))["r2_key"])
            await eventually(lambda: _count(records_collection, len(accepted)), timeout=60)
            await eventually(lambda: _no_open_uploads(bucket), timeout=30)
        finally:
            restarted.terminate()
            restarted.wait(10)
    assert await _keys(records_collection) == sorted(accepted)
    prefix = f"users/alice/projects/{project_id}/"
    assert await _bucket_keys(bucket, prefix) == sorted(accepted)


async def _created_project(http: ClientSession, base: str, headers: dict[str, str]) -> str | None:
    async with http.post(f"{base}/api/v1/projects", json={"name": "p"}, headers=headers) as r:
        return str((await r.json())["project_id"]) if r.status == 201 else None


async def _upload_status(
    http: ClientSession, base: str, headers: dict[str, str], project_id: str, video: Path
) -> tuple[int, str]:
    url = f"{base}/api/v1/projects/{project_id}/videos?filename={video.name}"
    with video.open("rb") as body:
        async with http.post(url, data=body, headers=headers) as response:
            answer = await response.json()
            return response.status, answer.get("r2_key", "")


async def _open_uploads(bucket: Any) -> bool:
    return bool(await bucket.open_uploads())


async def _no_open_uploads(bucket: Any) -> bool:
    return not await bucket.open_uploads()


async def _bucket_keys(bucket: Any, prefix: str) -> list[str]:
    page = await bucket.list_page(prefix, None, 1000)
    return sorted(entry.key for entry in page.entries)


async def test_a_client_gone_halfway_leaves_no_object_record_or_video(
    settings: Settings, bucket: Any, records_collection: Any, tmp_path: Path
) -> None:
    video = make_raw_video(tmp_path / "big.mkv", megabytes=24).read_bytes()
    settings = settings.model_copy(update={"multipart_part_bytes": 5 * 1024 * 1024})
    alice = bearer(settings, "alice")
    async with storage(settings), tracking(settings), ingest(settings) as base:
        async with ClientSession() as http:
            project_id = await create_project(http, base, alice)
        host, port = base.removeprefix("http://").split(":")
        _reader, writer = await asyncio.open_connection(host, int(port))
        head = (
            f"POST /api/v1/projects/{project_id}/videos?filename=a.mkv HTTP/1.1\r\n"
            f"Host: {host}\r\nAuthorization: {alice['Authorization']}\r\n"
            f"Content-Length: {len(video)}\r\n\r\n"
        )
        writer.write(head.encode() + video[: len(video) * 2 // 3])
        await writer.drain()
        await eventually(lambda: _open_uploads(bucket), timeout=30, interval=0.02)
        writer.close()  # the client goes away two thirds of the way through
        await eventually(lambda: _no_open_uploads(bucket), timeout=30)
        async with ClientSession() as http:
            url = f"{base}/api/v1/projects/{project_id}"
            async with http.get(url, headers=alice) as response:
                assert (await response.json())["videos"] == []
    assert await _bucket_keys(bucket, f"users/alice/projects/{project_id}/") == []
    assert await records_collection.count_documents(MEDIA) == 0


async def test_poison_cleanup_requests_are_dead_lettered_with_the_reason(
    settings: Settings, bucket: Any
) -> None:
    topology = topology_of(settings)
    bad_id = CleanupRequest(user_id="alice", project_id="../etc")
    async with tracking(settings), service_bus(settings, INGEST) as bus:
        await bus.publish(topology.cleanup, b"{not json", msg_id="poison-1")
        await bus.publish(topology.cleanup, encode(bad_id), msg_id="poison-2")
        letters = await eventually(lambda: _dead_letters(settings, 2))
    reasons = sorted(headers["Cliptrail-Error"] for headers in letters)
    assert "malformed CleanupRequest" in reasons[0]
    assert "project_id must match" in reasons[1]


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


async def test_an_upload_with_storage_away_is_503_with_retry_after_within_seconds(
    settings: Settings, bucket: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with tracking(settings), ingest(settings) as base:
        async with storage(settings):
            project_id = await create_project(http, base, alice)
        url = f"{base}/api/v1/projects/{project_id}/videos?filename=a.mp4"
        async with asyncio.timeout(20):  # never a hang: a bounded retry, then 503
            async with http.post(url, data=small_video.read_bytes(), headers=alice) as response:
                assert response.status == 503, await response.text()
                assert response.headers["Retry-After"].isdigit()
