"""Ingest streams uploads into the bucket: its memory does not grow with the file size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from deploy.servers import free_port
from libs.settings import Settings
from tests.support import (
    answers_ok,
    bearer,
    create_project,
    eventually,
    make_raw_video,
    peak_rss,
    spawn,
    storage,
    tracking,
    upload,
)

MIB = 1024 * 1024
PART, IN_FLIGHT = 5 * MIB, 2
# What ingest may hold of one upload: the parts in flight and the one filling (plus the
# allocator's slack); buffering the body would need the whole 270 MB difference.
BOUND = PART * (IN_FLIGHT + 1) + 8 * MIB


async def test_memory_stays_flat_from_30_to_300_mb(
    settings: Settings, bucket: Any, http: ClientSession, tmp_path: Path
) -> None:
    small = make_raw_video(tmp_path / "small.mkv", megabytes=30, width=1280, height=720)
    large = make_raw_video(tmp_path / "large.mkv", megabytes=300, width=1280, height=720)
    port = free_port()
    tuning = {"multipart_part_bytes": PART, "multipart_concurrency": IN_FLIGHT}
    settings = settings.model_copy(update={"http_port": port, **tuning})
    process = spawn("services.ingest.main", settings, tmp_path / "ingest.log")
    base = f"http://127.0.0.1:{port}"
    alice = bearer(settings, "alice")
    async with storage(settings), tracking(settings):  # not measured: in this process
        await _uploads_measured(process, http, base, alice, small, large)


async def _uploads_measured(
    process: Any, http: ClientSession, base: str, alice: dict[str, str], small: Path, large: Path
) -> None:
    try:
        await eventually(lambda: answers_ok(http, f"{base}/healthz"), timeout=30)
        project_id = await create_project(http, base, alice)
        await upload(http, base, alice, project_id, small)  # warm up imports and buffers
        async with peak_rss(process.pid) as after_small:
            await upload(http, base, alice, project_id, small)
        async with peak_rss(process.pid) as after_large:
            await upload(http, base, alice, project_id, large)
    finally:
        process.terminate()
        process.wait(10)
    growth = after_large[0] - after_small[0]
    assert growth < BOUND, f"RSS grew by {growth / MIB:.1f} MiB for a 270 MB larger upload"
