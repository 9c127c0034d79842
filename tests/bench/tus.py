"""Resumable upload: a video (256 MiB; 1 GiB at BENCH_SCALE=full) sent by `cliptrail upload`'s
code (tus 1.0, 16 MiB PATCHes, checksummed) until the last answer names the stored video, next
to the one-request upload of the same file (POST until the 202) on the same stack.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from statistics import median

import aiohttp

from client.api import Api
from client.upload import MIB, States, upload
from libs.settings import Settings
from tests.bench.common import Row, Scale, bearer, bench_settings, create_project, system
from tests.bench.upload import post_video
from tests.support import make_raw_video

CHUNK = 16 * MIB
RUNS = 3


async def one_request(settings: Settings, video: Path) -> float:
    """Seconds until the 202 of one POST of the whole file."""
    at = (settings.http_port, "bench", await create_project(settings, "bench"))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
        started = time.perf_counter()
        await post_video(http, settings, at, video)
        return time.perf_counter() - started


def resumable(settings: Settings, video: Path, states: States) -> float:
    """Seconds until the last PATCH is answered with the stored video's id."""
    project_id = asyncio.run(create_project(settings, "bench"))
    token = bearer(settings, "bench")["Authorization"].split()[1]
    api = Api(f"http://127.0.0.1:{settings.http_port}", token)
    started = time.perf_counter()
    sent = upload(api, states, project_id, video, None, CHUNK)
    assert sent.video_id and sent.resumed_at == 0
    return time.perf_counter() - started


def run(scale: Scale) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-tus-") as temp:
        root = Path(temp)
        settings = bench_settings(root)
        video = make_raw_video(root / "bench.mkv", scale.upload_mib, width=1280, height=720)
        states = States(root / "uploads.json")
        ours, theirs = [], []
        with system(settings, root):
            asyncio.run(create_project(settings, "warm-up"))
            for _ in range(RUNS):  # in turn: the machine is shared
                theirs.append(asyncio.run(one_request(settings, video)))
                ours.append(resumable(settings, video, states))
        mib = video.stat().st_size / MIB
    tus, post = median(ours), median(theirs)
    return [
        Row(f"resumable upload {mib:,.0f} MiB (tus, 16 MiB chunks)", tus, "s",
            "one-request upload", post, at_most=1.25,
            note=f"median of {RUNS}, in turn; {mib / tus:.0f} MiB/s against {mib / post:.0f} "
            "MiB/s; until the last answer names the stored video"),
    ]  # fmt: skip
