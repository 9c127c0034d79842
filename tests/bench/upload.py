"""Upload: a video (256 MiB; 1 GiB at BENCH_SCALE=full) through ingest until tracked, next to
`s5cmd cp` of the same file to the same nanio; with the time until the 202 and ingest's peak RSS.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil
from pymongo import MongoClient

from libs.settings import Settings
from libs.storage.records import COLLECTION
from tests.bench.common import Row, Scale, bearer, bench_settings, create_project, s5cmd, system
from tests.support import make_raw_video


async def upload_until_tracked(
    settings: Settings, video: Path, ingest_pid: int
) -> tuple[float, float, int]:
    base = f"http://127.0.0.1:{settings.http_port}"
    headers = bearer(settings, "bench")
    mongo: MongoClient[dict[str, object]] = MongoClient(settings.mongodb_uri)
    records = mongo[settings.mongodb_db][COLLECTION]
    ingest = psutil.Process(ingest_pid)
    peak = ingest.memory_info().rss
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
        project_id = await create_project(settings, "bench")
        started = time.perf_counter()
        url = f"{base}/api/v1/projects/{project_id}/videos?filename=bench.mkv"
        with video.open("rb") as body:
            upload = asyncio.create_task(http.post(url, data=body, headers=headers))
            while not upload.done():
                peak = max(peak, ingest.memory_info().rss)
                await asyncio.sleep(0.02)
            key = (await (await upload).json())["r2_key"]
            accepted = time.perf_counter() - started
        while records.find_one({"object_key": key}) is None:
            peak = max(peak, ingest.memory_info().rss)
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
    mongo.close()
    return accepted, elapsed, peak


def run(scale: Scale) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-upload-") as temp:
        root = Path(temp)
        settings = bench_settings(root)
        video = make_raw_video(root / "bench.mkv", scale.upload_mib, width=1280, height=720)
        with system(settings, root) as stack:
            ingest = stack.services["services.ingest.main"].pid
            accepted, ours, peak = asyncio.run(upload_until_tracked(settings, video, ingest))
            target = f"s3://{settings.r2_bucket_name}/s5cmd/{video.name}"
            theirs = s5cmd(settings, "cp", str(video), target)
        mib = video.stat().st_size / 1024**2
    return [
        Row(f"upload {mib:,.0f} MiB: ingest → stored → tracked", ours, "s", "s5cmd cp", theirs,
            note=f"{mib / ours:.0f} MiB/s against {mib / theirs:.0f} MiB/s; "
            f"202 after {accepted:.2f} s (receive, fsync, probe)"),
        Row("upload: ingest peak RSS", peak / 1024**2, "MiB"),
    ]  # fmt: skip
