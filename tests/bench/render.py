"""`make bench`: one 60 s 720p source rendered into 3 highlights x 2 styles by the real pipeline,
next to the very same ffmpeg commands run one after another in a plain loop (once before and
once after the pipeline, so that a machine busy with something else shows as a spread).

Everything runs on this machine: real nats-server, nanio and SecantusDB on free ports, storage,
tracking, ingest and render as their own processes. The source is stored through storage, then a
RenderRequest without highlights (render picks three, styles original and vertical) goes on NATS.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from nats.aio.msg import Msg
from pymongo import MongoClient

from libs.media.highlights import Highlight
from libs.media.probe import ffmpeg_exe
from libs.messaging.events import RenderStatus, decode
from libs.runtime.wiring import open_object_store, topology_of
from libs.settings import Settings
from libs.storage.keys import highlights_key
from libs.storage.records import COLLECTION
from libs.web.auth import issue_token
from services.render.auto_highlights import parse_loudness, parse_scene_changes, pick_highlights
from services.render.commands import analysis_args, encode_args, probe_args, thumbnail_args
from services.render.ffmpeg import parse_probe
from services.render.model import EncodeJob, FrameSize, Signal
from tests.bench.upload import bench_settings, system, wait_healthy
from tests.render.support import TERMINAL, request_render, store_source
from tests.support import connect_nats, spawn

SECONDS, SIZE, RATE = 60, "1280x720", 30
USER, PROJECT, VIDEO = "bench", "p1", "v1"


def make_source(path: Path) -> Path:
    """60 s of 720p testsrc2 with a tone, encoded like a typical upload (H.264 veryfast, AAC)."""
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate={RATE}:duration={SECONDS}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
         "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip
    return path


async def wait_ready(settings: Settings) -> None:
    ports = (settings.storage_health_port, settings.tracking_health_port)
    async with aiohttp.ClientSession() as http:
        for port in (*ports, settings.render_health_port):
            await wait_healthy(http, f"http://127.0.0.1:{port}/readyz")


async def render_once(settings: Settings, video: Path) -> tuple[float, float, dict[str, Any]]:
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
    await request_render(settings, key, None, f"render:{VIDEO}")
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


def run(args: list[str]) -> str:
    done = subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return done.stderr.decode(errors="replace")


def run_directly(settings: Settings, video: Path, out: Path) -> tuple[float, list[Highlight]]:
    """Render's ffmpeg commands one after another: probe and analyse the source, pick the same
    highlights from the log, then encode and thumbnail each clip. (wall time, highlights)"""
    started = time.perf_counter()
    duration = parse_probe(run(probe_args(video))).duration
    log = run(analysis_args(video, with_audio=True))
    signal = Signal(parse_scene_changes(log), parse_loudness(log))
    highlights = pick_highlights(duration, signal)
    for args in clip_commands(settings, video, highlights, out):
        run(args)
    return time.perf_counter() - started, highlights


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


def report(settings: Settings, manifest: dict[str, Any], times: dict[str, float]) -> None:
    highlights = manifest["highlights"]
    spans = ", ".join(f"{h['start']:g}-{h['end']:g} s" for h in highlights)
    clips = sum(len(h["clips"]) for h in highlights)
    direct = (times["before"] + times["after"]) / 2
    slots = settings.render_concurrency
    print(f"clips                               {clips} ({spans}; original + vertical)")
    print(f"preset / RENDER_CONCURRENCY         {settings.render_preset} / {slots}")
    print(f"RenderRequest -> RenderStatus ready {times['ready']:7.2f} s")
    print(f"RenderRequest -> all tracked        {times['tracked']:7.2f} s")
    print(f"same ffmpeg commands in a loop      {direct:7.2f} s  (before {times['before']:.2f},"
          f" after {times['after']:.2f})")  # fmt: skip
    print(f"ratio pipeline / direct             {times['ready'] / direct:7.2f}x")
    print(f"upload accepted (202) -> ready      {times['upload']:7.2f} s")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-render-") as temp:
        root = Path(temp)
        settings = bench_settings(root).model_copy(update={"render_concurrency": 1})
        print(f"bench: making a {SECONDS} s {SIZE} source...", flush=True)
        video = make_source(root / "source.mp4")
        (root / "direct").mkdir()
        before, highlights = run_directly(settings, video, root / "direct")
        with system(settings, root) as processes:
            processes.append(spawn("services.render.main", settings, root / "services.log"))
            started, ready, manifest = asyncio.run(render_once(settings, video))
            tracked = until_tracked(settings, manifest, started)
            uploaded = asyncio.run(upload_to_ready(settings, video))
        after, _ = run_directly(settings, video, root / "direct")
    picked = [(h["start"], h["end"]) for h in manifest["highlights"]]
    if picked != [(h.start, h.end) for h in highlights]:
        raise SystemExit(f"bench: the pipeline picked {picked}, the direct loop {highlights}")
    times = {"ready": ready, "tracked": tracked, "before": before, "after": after}
    times["upload"] = uploaded
    report(settings, manifest, times)


if __name__ == "__main__":
    main()
