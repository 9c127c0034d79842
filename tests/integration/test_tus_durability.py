"""Resumable uploads (tus 1.0) under stress on the real stack: ingest killed mid-PATCH, two
clients racing on one upload, expired uploads swept."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from nats.js.errors import KeyNotFoundError
from tusclient.client import TusClient

from deploy.servers import free_port
from libs.messaging.topology import UPLOADS_KV
from libs.runtime.wiring import topology_of
from libs.settings import Settings
from services.ingest.resumable import UploadState
from tests.support import (
    MEDIA,
    answers_ok,
    bearer,
    connect_nats,
    create_project,
    eventually,
    leftovers,
    make_raw_video,
    spawn,
    stack,
    storage,
    tracking,
)

PART = 5 * 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = {"Content-Type": "application/offset+octet-stream"}


async def _create(http: ClientSession, base: str, headers: dict[str, str], length: int) -> str:
    project_id = await create_project(http, base, headers)
    name = base64.b64encode(b"big.mkv").decode()
    creation = {
        **headers,
        **TUS,
        "Upload-Length": str(length),
        "Upload-Metadata": f"filename {name}",
    }
    async with http.post(f"{base}/api/v1/projects/{project_id}/uploads", headers=creation) as r:
        assert r.status == 201, await r.text()
        return f"{base}{r.headers['Location']}"


async def _patch(
    http: ClientSession, url: str, headers: dict[str, str], offset: int, body: Any, length: int
) -> int:
    sent = {**headers, **TUS, **CHUNK, "Upload-Offset": str(offset), "Content-Length": str(length)}
    data = io.BytesIO(body) if isinstance(body, bytes) else body
    async with http.patch(url, headers=sent, data=data) as response:
        return response.status


async def _head(
    http: ClientSession, url: str, headers: dict[str, str]
) -> tuple[int, dict[str, str]]:
    async with http.head(url, headers={**headers, **TUS}) as response:
        return response.status, dict(response.headers)


def _resume(url: str, headers: dict[str, str], path: Path) -> None:
    """The rest of `path` by tuspy from the server's offset (blocking: run it in a thread);
    retried while a dead PATCH's lease still holds the upload (423)."""
    client = TusClient(url.rpartition("/")[0], headers=headers)
    with path.open("rb") as stream:
        uploader = client.uploader(
            file_stream=stream, url=url, chunk_size=PART, retries=20, retry_delay=1
        )
        uploader.upload()


async def _state(settings: Settings, url: str) -> UploadState | None:
    client = await connect_nats(settings)
    try:
        kv = await client.jetstream().key_value(topology_of(settings).key_value(UPLOADS_KV))
        entry = await kv.get(url.rpartition("/")[2])
    except KeyNotFoundError:  # deleted too
        return None
    else:
        return UploadState.model_validate_json(entry.value) if entry.value else None
    finally:
        await client.close()


async def _stalled(data: bytes, release: asyncio.Event) -> AsyncIterator[bytes]:
    """`data` sent, then the body holds still (the rest never comes before `release`)."""
    for start in range(0, len(data), 256 * 1024):
        yield data[start : start + 256 * 1024]
    await release.wait()


async def test_ingest_killed_during_a_patch_and_the_upload_resumed(
    settings: Settings, bucket: Any, http: ClientSession, tmp_path: Path
) -> None:
    port = free_port()
    update = {"http_port": port, "multipart_part_bytes": PART, "tus_lease_seconds": 2.0}
    settings = settings.model_copy(update=update)
    video = make_raw_video(tmp_path / "big.mkv", megabytes=16)
    data, headers, base = video.read_bytes(), bearer(settings, "alice"), f"http://127.0.0.1:{port}"
    acknowledged = PART + 1000  # one whole part and a tail
    log = tmp_path / "ingest.log"
    async with storage(settings), tracking(settings):
        process = spawn("services.ingest.main", settings, log)
        try:
            await eventually(lambda: answers_ok(http, f"{base}/healthz"), timeout=60)
            url = await _create(http, base, headers, len(data))
            assert await _patch(http, url, headers, 0, data[:acknowledged], acknowledged) == 204
            release = asyncio.Event()
            rest = len(data) - acknowledged
            body = _stalled(data[acknowledged : acknowledged + PART + 2000], release)
            killed = asyncio.create_task(_patch(http, url, headers, acknowledged, body, rest))
            await eventually(lambda: _leased(settings, url))  # the PATCH holds the upload
            process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(process.wait, 30)
            release.set()
            with contextlib.suppress(Exception):
                await killed
            process = spawn("services.ingest.main", settings, log)
            await eventually(lambda: answers_ok(http, f"{base}/healthz"), timeout=60)
            status, answer = await _head(http, url, headers)
            assert status == 200 and int(answer["Upload-Offset"]) == acknowledged
            await asyncio.to_thread(_resume, url, headers, video)
            status, answer = await _head(http, url, headers)
            assert int(answer["Upload-Offset"]) == len(data)
            video_url = f"{base}{answer['Cliptrail-Video-Location']}"
            async with http.get(video_url, headers=headers) as response:
                stored = await response.json()
        finally:
            process.kill()
            await asyncio.to_thread(process.wait, 30)
    assert stored["status"] == "stored" and stored["size_bytes"] == len(data)
    left = await leftovers(settings)
    assert not [k for k in left if "partial" in k or "open upload" in k], left


async def _leased(settings: Settings, url: str) -> bool:
    state = await _state(settings, url)
    return state is not None and state.generation == 2 and state.leased_until > 0


async def test_two_clients_racing_on_one_upload_never_corrupt_it(
    settings: Settings, bucket: Any, http: ClientSession, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"multipart_part_bytes": PART})
    data = make_raw_video(tmp_path / "big.mkv", megabytes=12).read_bytes()
    headers, first = bearer(settings, "alice"), PART + 4096
    async with stack(settings) as base:
        url = await _create(http, base, headers, len(data))
        racing = [_patch(http, url, headers, 0, data[:first], first) for _ in range(2)]
        statuses = sorted(await asyncio.gather(*racing))
        assert statuses[0] == 204 and statuses[1] in (409, 423), statuses
        _, answer = await _head(http, url, headers)
        assert int(answer["Upload-Offset"]) == first
        assert await _patch(http, url, headers, first, data[first:], len(data) - first) == 204
        _, answer = await _head(http, url, headers)
        async with http.get(f"{base}{answer['Cliptrail-Video-Location']}", headers=headers) as r:
            key = (await r.json())["r2_key"]
    async with http.get(await bucket.presign_get(key, 60)) as got:
        assert await got.read() == data


async def test_expired_uploads_are_swept_leaving_nothing(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, tmp_path: Path
) -> None:
    timing = {"tus_expiry_seconds": 4.0, "tus_sweep_seconds": 0.5}
    settings = settings.model_copy(update={"multipart_part_bytes": PART, **timing})
    data = make_raw_video(tmp_path / "big.mkv", megabytes=12).read_bytes()
    headers, sent = bearer(settings, "alice"), PART + 4096  # a part and a partial tail
    async with stack(settings) as base:
        url = await _create(http, base, headers, len(data))
        assert await _patch(http, url, headers, 0, data[:sent], sent) == 204
        staged = await leftovers(settings)
        assert any("partial" in k for k in staged) and any("open upload" in k for k in staged)
        await eventually(lambda: _gone(settings, url), timeout=30)
        assert (await _head(http, url, headers))[0] == 404
        assert await eventually(lambda: _no_records(records_collection), timeout=30)
    assert await leftovers(settings) == []


async def _gone(settings: Settings, url: str) -> bool:
    return await _state(settings, url) is None and not await leftovers(settings)


async def _no_records(collection: Any) -> bool:
    count: int = await collection.count_documents(MEDIA)
    return count == 0
