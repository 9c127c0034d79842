"""`make bench`: upload throughput with metrics, tracing and access logs on, against all off.

Real nats-server, nanio and SecantusDB on free ports; storage, tracking and ingest as their own
processes, fresh (own prefix, bucket, database) for each round. Rounds alternate off and on so a
slow moment of this shared machine falls on both; each side's median is compared. "On" exports
spans over OTLP/HTTP to a stand-in collector, as a production setup would. #13 asks for >= 0.97.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
from aiohttp import web

from deploy.servers import free_port, load_processes, placeholder_values, start_server, stop_process
from libs.settings import Settings
from libs.web.auth import issue_token
from tests.bench.common import SERVICES, Row, Scale, bench_settings, wait_healthy
from tests.support import make_video, serving, spawn

UPLOADS = 96
CONCURRENCY = 8
ROUNDS = 4  # of each side
FLOOR = 0.97


@contextlib.contextmanager
def servers(settings: Settings, root: Path) -> Iterator[None]:
    specs, _ = load_processes(placeholder_values(settings))
    started = [start_server(spec, root / "logs") for spec in specs]
    try:
        yield
    finally:
        for process in reversed(started):
            stop_process(process)


@contextlib.asynccontextmanager
async def collector() -> AsyncIterator[str]:
    """Accepts OTLP/HTTP trace exports and drops them."""

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    app = web.Application(client_max_size=64 * 1024**2)
    app.router.add_post("/v1/traces", receive)
    async with serving(app) as url:
        yield url


@contextlib.contextmanager
def services(settings: Settings, log: Path) -> Iterator[None]:
    processes: list[subprocess.Popen[bytes]] = [spawn(m, settings, log) for m in SERVICES]
    try:
        yield
    finally:
        for process in reversed(processes):
            stop_process(process)


async def uploads_per_second(settings: Settings, video: bytes) -> float:
    base = f"http://127.0.0.1:{settings.http_port}"
    token = issue_token(settings.auth_jwt_secret.get_secret_value(), "bench")
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        await wait_healthy(http, f"{base}/readyz")
        async with http.post(f"{base}/api/v1/projects", json={"name": "b"}, headers=headers) as r:
            created = await r.json()
            if r.status != 201:
                raise SystemExit(f"bench: creating a project answered {created}")
            url = f"{base}/api/v1/projects/{created['project_id']}/videos"
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with gate, http.post(url, data=video, headers=headers) as response:
                if response.status != 202:
                    raise SystemExit(f"bench: upload answered {response.status}")

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(UPLOADS)))
        return UPLOADS / (time.perf_counter() - started)


async def rounds(settings: Settings, root: Path, video: bytes) -> dict[bool, list[float]]:
    results: dict[bool, list[float]] = {False: [], True: []}
    async with collector() as otlp:
        for number in range(2 * ROUNDS):
            on = number % 2 == 1
            tag = f"o{number}"
            one = settings.model_copy(
                update={
                    "nats_prefix": f"{tag}.",
                    "r2_bucket_name": f"bench-{tag}",
                    "mongodb_db": f"bench_{tag}",
                    "data_dir": root / tag,  # a fresh bucket needs a fresh catalog cache
                    "telemetry": on,
                    "otlp_endpoint": otlp if on else "",
                }
            )
            with services(one, root / f"services-{tag}.log"):
                results[on].append(await uploads_per_second(one, video))
            print(f"bench: round {number + 1}: telemetry {'on ' if on else 'off'} "
                  f"{results[on][-1]:6.1f} uploads/s", flush=True)  # fmt: skip
    return results


def run(_scale: Scale) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-observe-") as temp:
        root = Path(temp)
        settings = bench_settings(root).model_copy(update={"http_port": free_port()})
        video = make_video(root / "clip.mp4", seconds=2.0).read_bytes()
        with servers(settings, root):
            results = asyncio.run(rounds(settings, root, video))
    on, off = statistics.median(results[True]), statistics.median(results[False])
    what = f"uploads/s ({UPLOADS} x {len(video) // 1024} KiB, {CONCURRENCY} at once)"
    return [
        Row(f"{what}, metrics and tracing on", on, "uploads/s", "telemetry off", off,
            at_least=FLOOR, note=f"median of {ROUNDS} rounds each, alternated"),
    ]  # fmt: skip
