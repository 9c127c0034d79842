"""Render: one 720p source (18 s; 60 s at BENCH_SCALE=full) rendered into 3 highlights x 4 styles
by the real pipeline, next to the very same ffmpeg commands run one after another in a plain
loop (once before and once after the pipeline, so that a machine busy with something else shows
as a spread).

Everything runs on this machine: real nats-server, nanio and SecantusDB on free ports, storage,
tracking, ingest and render as their own processes. Three highlights, each a sixth of the
source, are named in the request with all four styles: the source is stored through storage,
then the RenderRequest goes on NATS. At full scale, an upload through ingest is also timed from
its 202 to `ready` (render picks the highlights itself then).
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, get_args

import aiohttp
from nats.aio.msg import Msg
from pymongo import MongoClient

from libs.media.highlights import Highlight, Style
from libs.media.probe import probe
from libs.media.runner import ffmpeg_exe
from libs.messaging.events import RenderStatus, decode
from libs.runtime.wiring import open_object_store, topology_of
from libs.settings import Settings
from libs.storage.keys import highlights_key
from libs.storage.records import COLLECTION
from libs.web.auth import issue_token
from services.render.commands import encode_args, thumbnail_args
from services.render.model import EncodeJob, FrameSize
from tests.bench.common import Row, Scale, bench_settings, system, wait_healthy
from tests.integration.render.support import TERMINAL, request_render, store_source
from tests.support import connect_nats

SIZE, RATE = "1280x720", 30
ALL_STYLES: list[Style] = list(get_args(Style))
USER, PROJECT, VIDEO = "bench", "p1", "v1"


def make_source(path: Path, seconds: int) -> Path:
    """720p testsrc2 with a tone, encoded like a typical upload (H.264 veryfast, AAC)."""
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate={RATE}:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip
    return path


async def wait_ready(settings: Settings) -> None:
    ports = (settings.storage_health_port, settings.tracking_health_port)
    async with aiohttp.ClientSession() as http:
        for port in (*ports, settings.render_health_port):
            await wait_healthy(http, f"http://127.0.0.1:{port}/readyz")


async def render_once(
    settings: Settings, video: Path, highlights: list[Highlight]
) -> tuple[float, float, dict[str, Any]]:
    """(when the request was published, how long until ready, highlights.json)."""
    await wait_ready(settings)
    key = await store_source(settings, video, USER, PROJECT, VIDEO)
    client = await connect_nats(settings)
    outcome: asyncio.Future[RenderStatus] = asyncio.get_running_loop().create_future()

    async def on_status(message: Msg) -> None:
        status = decode(RenderStatus, message.data)
        if status.status in TERMINAL and not outcome.done():
            outcome.set_result(status)

    await client.subscribe(topology_of(settings).render_status, cb=on_status)
    started = time.perf_counter()
    picked = [highlight.model_dump() for highlight in highlights]
    await request_render(settings, key, picked, f"render:{VIDEO}")
    status = await asyncio.wait_for(outcome, 1800)
    ready = time.perf_counter() - started
    await client.close()
    if status.status != "ready":
        raise SystemExit(f"bench: render failed: {status.error}")
    return started, ready, await read_manifest(settings)


async def read_manifest(settings: Settings) -> dict[str, Any]:
    async with open_object_store(settings) as store, aiohttp.ClientSession() as http:
        url = await store.presign_get(highlights_key(USER, PROJECT, VIDEO), 60)
        async with http.get(url) as response:
            manifest: dict[str, Any] = await response.json(content_type=None)
            return manifest


def until_tracked(settings: Settings, manifest: dict[str, Any], started: float) -> float:
    """Every clip, thumbnail, the source and highlights.json recorded in MongoDB."""
    expected = 2 + 2 * sum(len(h["clips"]) for h in manifest["highlights"])
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    records = mongo[settings.mongodb_db][COLLECTION]
    while records.count_documents({}) < expected:
        time.sleep(0.02)
    mongo.close()
    return time.perf_counter() - started


async def upload_to_ready(settings: Settings, video: Path) -> float:
    """Through ingest as a user would: from the 202 to the video's status `ready`."""
    base = f"http://127.0.0.1:{settings.http_port}/api/v1/projects"
    token = issue_token(settings.auth_jwt_secret.get_secret_value(), USER)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(base, json={"name": "bench"}, headers=headers) as response:
            project = (await response.json())["project_id"]
        with video.open("rb") as body:
            async with http.post(f"{base}/{project}/videos", data=body, headers=headers) as r:
                video_id = (await r.json())["video_id"]
        accepted = time.perf_counter()
        while True:
            async with http.get(f"{base}/{project}/videos/{video_id}", headers=headers) as r:
                status = (await r.json())["status"]
            if status in ("ready", "failed"):
                break
            await asyncio.sleep(0.1)
    if status != "ready":
        raise SystemExit("bench: the uploaded video failed to render")
    return time.perf_counter() - accepted


def ffmpeg(args: list[str]) -> str:
    done = subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return done.stderr.decode(errors="replace")


def three_highlights(seconds: int) -> list[Highlight]:
    """Three highlights spread over the source (a sixth of it each), with all four styles."""
    length = seconds / 6
    starts = [round(seconds * n / 3 + length / 2, 3) for n in range(3)]
    return [
        Highlight(start=s, end=s + length, title=f"Highlight {n}", styles=ALL_STYLES)
        for n, s in enumerate(starts, 1)
    ]


def run_directly(settings: Settings, video: Path, highlights: list[Highlight], out: Path) -> float:
    """Render's ffmpeg commands one after another: probe the source, then encode and thumbnail
    each clip. (wall time)"""
    started = time.perf_counter()
    asyncio.run(probe(video))
    for args in clip_commands(settings, video, highlights, out):
        ffmpeg(args)
    return time.perf_counter() - started


def clip_commands(
    settings: Settings, video: Path, highlights: list[Highlight], out: Path
) -> list[list[str]]:
    vertical = FrameSize.parse(settings.render_vertical_size)
    commands = []
    for number, highlight in enumerate(highlights, 1):
        length = highlight.end - highlight.start
        for style in highlight.styles:
            output = out / f"{number}-{style}.mp4"
            job = EncodeJob(
                video, output, highlight.start, length, style, vertical, settings.render_preset,
                with_audio=True,
            )  # fmt: skip
            commands += [
                encode_args(job),
                thumbnail_args(output, output.with_suffix(".jpg"), length / 3),
            ]
    return commands


def rows(settings: Settings, manifest: dict[str, Any], times: dict[str, float]) -> list[Row]:
    highlights = manifest["highlights"]
    spans = ", ".join(f"{h['start']:g}-{h['end']:g} s" for h in highlights)
    clips = sum(len(h["clips"]) for h in highlights)
    direct = (times["before"] + times["after"]) / 2
    what = f"render {len(highlights)} highlights x {len(ALL_STYLES)} styles ({clips} clips)"
    note = (
        f"{spans}; preset {settings.render_preset}, RENDER_CONCURRENCY="
        f"{settings.render_concurrency}; loop {times['before']:.2f} s before, "
        f"{times['after']:.2f} s after; every output tracked after {times['tracked']:.2f} s"
    )
    found = [
        Row(f"{what}: RenderRequest → ready", times["ready"], "s",
            "the same ffmpeg commands in a loop", direct, at_most=1.10, note=note),
    ]  # fmt: skip
    if "upload" in times:
        found.append(Row("render: upload accepted (202) → ready", times["upload"], "s"))
    return found


def run(scale: Scale) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-render-") as temp:
        root = Path(temp)
        settings = bench_settings(root, render_concurrency=1)
        video = make_source(root / "source.mp4", scale.render_seconds)
        highlights = three_highlights(scale.render_seconds)
        (root / "direct").mkdir()
        times = {"before": run_directly(settings, video, highlights, root / "direct")}
        with system(settings, root) as stack:
            stack.start("services.render.main", settings)
            started, ready, manifest = asyncio.run(render_once(settings, video, highlights))
            times |= {"ready": ready, "tracked": until_tracked(settings, manifest, started)}
            if scale.name == "full":
                times["upload"] = asyncio.run(upload_to_ready(settings, video))
        times["after"] = run_directly(settings, video, highlights, root / "direct")
    return rows(settings, manifest, times)
