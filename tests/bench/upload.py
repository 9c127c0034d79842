"""Upload: a video (256 MiB; 1 GiB at BENCH_SCALE=full) through ingest until answered 202
(stored and verified; then tracked), next to `s5cmd cp` of the same file to the same nanio; ingest's
peak RSS during that upload and during a 30 MB one; and the throughput of 2 ingest replicas
against 1 under the same concurrent load (8 uploads of 64 MB at once, round-robin).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from statistics import median

import aiohttp
import psutil
from pymongo import MongoClient

from deploy.servers import free_port
from libs.settings import Settings
from libs.storage.records import COLLECTION
from tests.bench.common import (
    Row,
    Scale,
    Stack,
    bearer,
    bench_settings,
    create_project,
    s5cmd,
    system,
)
from tests.support import make_raw_video, peak_rss

INGEST = "services.ingest.main"
MIB = 1024**2
SMALL_MB, LOAD_MB, LOAD_UPLOADS = 30, 64, 8
RUNS = 3


async def project_on(settings: Settings, port: int, user: str) -> tuple[int, str, str]:
    """(port, user, project id): a project of `user` through the ingest on `port`, once ready."""
    on = settings.model_copy(update={"http_port": port})
    return port, user, await create_project(on, user)


async def post_video(
    http: aiohttp.ClientSession, settings: Settings, at: tuple[int, str, str], video: Path
) -> str:
    """One upload to (ingest port, user, project id); its key once answered 202."""
    port, user, project_id = at
    url = f"http://127.0.0.1:{port}/api/v1/projects/{project_id}/videos?filename={video.name}"
    with video.open("rb") as body:
        async with http.post(url, data=body, headers=bearer(settings, user)) as response:
            assert response.status == 202, await response.text()
            return str((await response.json())["r2_key"])


async def measured_upload(
    settings: Settings, video: Path, pid: int
) -> tuple[float, float, int, float]:
    """Seconds until the 202 and until the ledger tracks it, ingest's peak RSS meanwhile, and
    the CPU seconds ingest spent (robust where wall time is not: the machine is shared)."""
    cpu = _cpu(pid)
    at = await project_on(settings, settings.http_port, "bench")
    mongo: MongoClient[dict[str, object]] = MongoClient(settings.mongodb_uri)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as http, peak_rss(pid) as peak:
        started = time.perf_counter()
        key = await post_video(http, settings, at, video)
        accepted = time.perf_counter() - started
        while mongo[settings.mongodb_db][COLLECTION].find_one({"object_key": key}) is None:
            await asyncio.sleep(0.02)
        tracked = time.perf_counter() - started
    mongo.close()
    return accepted, tracked, peak[0], _cpu(pid) - cpu


async def under_load(settings: Settings, video: Path, ports: list[int]) -> float:
    """Seconds for LOAD_UPLOADS concurrent uploads, round-robin over the replicas' ports
    (each by its own user: ingest allows a user only a few uploads at once)."""
    projects = [
        await project_on(settings, ports[i % len(ports)], f"load-{i}") for i in range(LOAD_UPLOADS)
    ]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(post_video(http, settings, at, video) for at in projects))
        return time.perf_counter() - started


def second_replica(stack: Stack, settings: Settings, root: Path) -> int:
    """Another ingest on its own port with its own scratch; the same NATS identity."""
    replica = settings.model_copy(update={"http_port": free_port(), "data_dir": root / "data-2"})
    stack.start(INGEST, replica, name="ingest-2")
    return replica.http_port


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def side_by_side(
    settings: Settings, video: Path, pid: int
) -> tuple[float, float, float, int, float]:
    """Ours and s5cmd's in turn, RUNS times each (the machine is shared): the medians of the
    time until 202, until tracked and s5cmd's, the highest peak RSS, ingest's median CPU."""
    ours, theirs = [], []
    for run in range(RUNS):
        ours.append(asyncio.run(measured_upload(settings, video, pid)))
        target = f"s3://{settings.r2_bucket_name}/s5cmd/{run}/{video.name}"
        theirs.append(s5cmd(settings, "cp", str(video), target))
    accepted, tracked, peaks, cpu = zip(*ours, strict=True)
    return median(accepted), median(tracked), median(theirs), max(peaks), median(cpu)


def replicas(stack: Stack, settings: Settings, root: Path, load: Path) -> tuple[float, float]:
    """Median seconds for the load on 1 replica and on 2, in turn, RUNS times each."""
    ports = [settings.http_port, second_replica(stack, settings, root)]
    one, two = [], []
    for _ in range(RUNS):
        one.append(asyncio.run(under_load(settings, load, ports[:1])))
        two.append(asyncio.run(under_load(settings, load, ports)))
    return median(one), median(two)


def run(scale: Scale) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-upload-") as temp:
        root = Path(temp)
        settings = bench_settings(root)
        video = make_raw_video(root / "bench.mkv", scale.upload_mib, width=1280, height=720)
        small = make_raw_video(root / "small.mkv", SMALL_MB, width=1280, height=720)
        load = make_raw_video(root / "load.mkv", LOAD_MB, width=1280, height=720)
        with system(settings, root) as stack:
            pid = stack.services[INGEST].pid
            asyncio.run(create_project(settings, "warm-up"))
            at_rest = _rss(pid)
            _, _, small_peak, _ = asyncio.run(measured_upload(settings, small, pid))
            accepted, tracked, theirs, peak, cpu = side_by_side(settings, video, pid)
            one, two = replicas(stack, settings, root, load)
        mib, load_mib = video.stat().st_size / MIB, LOAD_UPLOADS * load.stat().st_size / MIB
        small_mb = small.stat().st_size / 1e6
    return [
        Row(f"upload {mib:,.0f} MiB: until 202 (stored, verified)", accepted, "s",
            "s5cmd cp", theirs, at_most=1.10,
            note=f"median of {RUNS}, in turn with s5cmd; "
            f"{mib / accepted:.0f} MiB/s against {mib / theirs:.0f} MiB/s"),
        Row(f"upload {mib:,.0f} MiB: until tracked (in MongoDB)", tracked, "s",
            "s5cmd cp", theirs, note="tracking records the announced object after the 202"),
        Row(f"upload {mib:,.0f} MiB: ingest CPU time", cpu, "s", "s5cmd cp wall time", theirs,
            note="ingest's user + system CPU seconds for the upload (median)"),
        Row(f"upload {mib:,.0f} MiB: ingest peak RSS", peak / MIB, "MiB",
            "ingest at rest", at_rest / MIB, note="target <= 64 MiB"),
        Row(f"upload {small_mb:.0f} MB: ingest peak RSS", small_peak / MIB, "MiB",
            "ingest at rest", at_rest / MIB, note="target <= 64 MiB"),
        Row(f"upload throughput, {LOAD_UPLOADS} x {LOAD_MB} MB at once: 2 ingest replicas",
            load_mib / two, "MiB/s", "1 replica", load_mib / one,
            note=f"median of {RUNS}; the same load round-robin over 2 replicas against all "
            "on 1; the whole stack shares the machine's cores"),
    ]  # fmt: skip
