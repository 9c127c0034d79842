"""Resumable uploads (tus 1.0) with the real tuspy client against the real stack."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from tusclient.client import TusClient

from libs.settings import Settings
from tests.support import bearer, create_project, leftovers, make_raw_video, stack

CHUNK = 5 * 1024 * 1024


def _upload(
    endpoint: str, headers: dict[str, str], path: Path, chunks: int | None, url: str | None
) -> str:
    """`chunks` chunks of 5 MiB (all if None) by a new tuspy client, resuming `url` if given;
    the upload's URL. tuspy talks blocking HTTP: run this in a thread, never on the loop."""
    client = TusClient(endpoint, headers=headers)
    with path.open("rb") as stream:
        uploader = client.uploader(
            file_stream=stream, url=url, chunk_size=CHUNK, upload_checksum=True,
            metadata={"filename": path.name},
        )  # fmt: skip
        size = path.stat().st_size
        uploader.upload(stop_at=size if chunks is None else min(size, chunks * CHUNK))
        return str(uploader.url)


async def test_an_interrupted_upload_is_resumed_by_a_new_client(
    settings: Settings, bucket: Any, http: ClientSession, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"multipart_part_bytes": CHUNK})
    video = make_raw_video(tmp_path / "big.mkv", megabytes=20)
    headers = bearer(settings, "alice")
    head = {**headers, "Tus-Resumable": "1.0.0"}
    async with stack(settings) as base:
        project_id = await create_project(http, base, headers)
        endpoint = f"{base}/api/v1/projects/{project_id}/uploads"
        first = await asyncio.to_thread(_upload, endpoint, headers, video, 2, None)
        async with http.head(first, headers=head) as response:
            assert response.status == 200
            assert int(response.headers["Upload-Offset"]) == 2 * CHUNK
        await asyncio.to_thread(_upload, endpoint, headers, video, None, first)
        async with http.head(first, headers=head) as response:
            video_id = response.headers["Cliptrail-Video-Id"]
            assert int(response.headers["Upload-Offset"]) == video.stat().st_size
        url = f"{base}/api/v1/projects/{project_id}/videos/{video_id}"
        async with http.get(url, headers=headers) as response:
            body = await response.json()
            assert body["size_bytes"] == video.stat().st_size
            assert body["status"] in ("stored", "rendering", "ready")
    assert not [k for k in await leftovers(settings) if "partial" in k or "open upload" in k]
