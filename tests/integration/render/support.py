"""Render test helpers: generated media, frame comparisons, and the render pipeline on NATS."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats

from libs.media.highlights import Highlight
from libs.media.runner import ffmpeg_exe
from libs.messaging.events import (
    RenderRequest,
    RenderStatus,
    decode,
    encode,
)
from libs.messaging.topology import INGEST, RENDER
from libs.runtime.wiring import topology_of
from libs.settings import Settings
from libs.storage.keys import source_key
from services.render.app import RenderDeps
from services.render.app import build_app as build_render
from tests.support import connect_nats, push, service_bus, serving

TERMINAL = ("ready", "failed")


def ffmpeg_run(*args: str) -> bytes:
    command = [ffmpeg_exe(), "-v", "error", "-y", *args]
    return subprocess.run(command, check=True, capture_output=True).stdout


def make_media(
    path: Path, seconds: float, size: str = "320x180", rate: int = 25, audio: bool = True
) -> Path:
    """testsrc2 (every frame different) with a 440 Hz tone, H.264/AAC."""
    video = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    sound = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"] if audio else []
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "250"]
    ffmpeg_run(*video, *sound, *codecs, *(["-c:a", "aac"] if audio else []), str(path))
    return path


def make_bands(path: Path, colours: list[str], seconds: float = 3.0) -> Path:
    """Vertical colour bands side by side (about 640x360 in all), with a tone."""
    width = 640 // len(colours) // 2 * 2
    inputs = [arg for c in colours for arg in ("-f", "lavfi", "-i", f"color=c={c}:s={width}x360")]
    ffmpeg_run(
        *inputs,
        *("-f", "lavfi", "-i", f"sine=duration={seconds}"),
        "-filter_complex", f"hstack=inputs={len(colours)}",
        *("-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"),
        str(path),
    )  # fmt: skip
    return path


def make_quiet_then_loud(path: Path) -> Path:
    """40 s of quiet testsrc2, then a hard cut to 20 s of loud noise over colour bars."""
    ffmpeg_run(
        *("-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=40"),
        *("-f", "lavfi", "-i", "sine=frequency=440:duration=40,volume=-35dB"),
        *("-f", "lavfi", "-i", "smptebars=size=160x90:rate=25:duration=20"),
        *("-f", "lavfi", "-i", "anoisesrc=duration=20:amplitude=0.5"),
        "-filter_complex", "[0:v][1:a][2:v][3:a]concat=n=2:v=1:a=1[v][a]",
        *("-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"),
        str(path),
    )  # fmt: skip
    return path


def gray_frame(path: Path, index: int = 0, size: str = "64x36") -> bytes:
    """Frame number `index` of a file, decoded from the start, as small grey pixels."""
    return ffmpeg_run(
        *("-i", str(path), "-vf", f"select=eq(n\\,{index}),scale={size}"),
        *("-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"),
    )


def rgb_frame(path: Path, at: float) -> bytes:
    """The frame at `at` seconds as RGB bytes."""
    return ffmpeg_run(
        *("-ss", str(at), "-i", str(path), "-frames:v", "1"),
        *("-f", "rawvideo", "-pix_fmt", "rgb24", "-"),
    )


def mean_colour(raw: bytes, width: int, top: float, bottom: float) -> tuple[int, ...]:
    """Mean RGB of the rows between the fractions `top` and `bottom` of an RGB frame."""
    height = len(raw) // (width * 3)
    rows = raw[int(top * height) * width * 3 : int(bottom * height) * width * 3]
    pixels = len(rows) // 3
    return tuple(sum(rows[c::3]) // pixels for c in range(3))


def difference(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def frame_count(path: Path) -> int:
    log = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    return int(log.rpartition("frame=")[2].split()[0])


def is_jpeg(path: Path) -> bool:
    data = path.read_bytes()
    return data[:3] == b"\xff\xd8\xff" and data.rstrip(b"\x00")[-2:] == b"\xff\xd9"


@contextlib.asynccontextmanager
async def render(settings: Settings) -> AsyncIterator[str]:
    async with service_bus(settings, RENDER) as bus:
        deps = RenderDeps(bus=bus, topology=topology_of(settings))
        async with serving(build_render(settings, deps)) as url:
            yield url


async def store_source(settings: Settings, video: Path, user: str, project: str, vid: str) -> str:
    """Put a source in the bucket through storage (so it is recorded too); return its key."""
    key = source_key(user, project, vid, "mp4")
    await push(settings, key, video.read_bytes(), "video/mp4")
    return key


async def request_render(
    settings: Settings, key: str, highlights: list[dict[str, Any]] | None, msg_id: str
) -> RenderRequest:
    user, project, vid = key.split("/")[1], key.split("/")[3], key.split("/")[5]
    parsed = None if highlights is None else [Highlight.model_validate(h) for h in highlights]
    request = RenderRequest(
        user_id=user, project_id=project, video_id=vid, source_key=key, highlights=parsed
    )
    async with service_bus(settings, INGEST) as bus:
        await bus.publish(topology_of(settings).render_requested, encode(request), msg_id=msg_id)
    return request


async def statuses_until(settings: Settings, finished: int, timeout: float = 60) -> list[str]:
    """Render statuses as published, until `finished` of them are ready or failed."""
    seen: list[RenderStatus] = []
    client = await connect_nats(settings)
    try:
        sub = await client.jetstream().pull_subscribe(
            topology_of(settings).render_status, durable=None
        )
        deadline = time.monotonic() + timeout
        while sum(s.status in TERMINAL for s in seen) < finished:
            assert time.monotonic() < deadline, f"no end of rendering; statuses: {seen}"
            with contextlib.suppress(asyncio.TimeoutError, nats.errors.TimeoutError):
                for message in await sub.fetch(10, timeout=1):
                    seen.append(decode(RenderStatus, message.data))
                    await message.ack()
    finally:
        await client.close()
    return [s.status if s.error is None else f"{s.status}: {s.error}" for s in seen]


async def bucket_keys(bucket: Any, prefix: str = "users/") -> list[str]:
    page = await bucket.list_page(prefix, None, 1000)
    return sorted(entry.key for entry in page.entries)


async def records(collection: Any) -> dict[str, dict[str, Any]]:
    return {doc["object_key"]: doc async for doc in collection.find({}, {"_id": 0})}
