"""Render on real servers: a RenderRequest on NATS in; objects, records and statuses out."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp import ClientSession

from libs.media.runner import FfmpegRunner
from libs.messaging.events import ObjectEvent, decode
from libs.runtime.wiring import topology_of
from libs.settings import Settings
from services.render.ffmpeg import FfmpegMedia
from tests.integration.render.support import (
    bucket_keys,
    records,
    render,
    request_render,
    statuses_until,
    store_source,
)
from tests.support import connect_nats, eventually, spawn, storage, tracking

pytestmark = pytest.mark.integration
USER, PROJECT = "alice", "p1"
BOTH = ["original", "vertical"]
HIGHLIGHTS = [
    {"start": 1, "end": 3, "title": "Goal! ⚽", "description": "The goal.", "styles": BOTH},
    {"start": 6, "end": 30, "title": 'Late / "quoted"', "styles": ["blur", "split"]},
    {"start": 40, "end": 45, "title": "Past the end"},
]

KINDS = {
    "source": ("source", "video/mp4"),
    "mp4": ("clip", "video/mp4"),
    "jpg": ("thumbnail", "image/jpeg"),
    "json": ("highlights", "application/json"),
}


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(update={"render_preset": "ultrafast", "render_concurrency": 2})


def clips_of(vid: str, *names: str) -> list[str]:
    prefix = f"users/{USER}/projects/{PROJECT}/videos/{vid}"
    return [f"{prefix}/clips/{name}" for name in names]


async def created_keys(settings: Settings) -> list[str]:
    """Keys of every storage.object.created event, in stream order."""
    client = await connect_nats(settings)
    try:
        topic = topology_of(settings).object_created
        sub = await client.jetstream().pull_subscribe(topic, durable=None)
        messages = await sub.fetch(100, timeout=2)
        return [decode(ObjectEvent, m.data).data.object.key for m in messages]
    finally:
        await client.close()


async def manifest_of(bucket: Any, http: ClientSession, key: str) -> dict[str, Any]:
    async with http.get(await bucket.presign_get(key, 60)) as response:
        manifest: dict[str, Any] = json.loads(await response.read())
        return manifest


def expected_keys(source: str) -> list[str]:
    """highlights.json, the source, then every clip and thumbnail HIGHLIGHTS ask for."""
    stems = ["01_01_goal_original", "01_02_goal_vertical"]
    stems += ["02_01_late-quoted_blur", "02_02_late-quoted_split"]
    names = [f"clip_{stem}.{ext}" for stem in stems for ext in ("jpg", "mp4")]
    return [source.replace("source.mp4", "highlights.json"), source, *clips_of("v1", *names)]


def listed_keys(manifest: dict[str, Any]) -> set[str]:
    clips = [clip for highlight in manifest["highlights"] for clip in highlight["clips"]]
    return {key for clip in clips for key in (clip["key"], clip["thumbnail_key"])}


async def download(bucket: Any, http: ClientSession, key: str, dest: Path) -> Path:
    async with http.get(await bucket.presign_get(key, 60)) as response:
        dest.write_bytes(await response.read())
    return dest


async def test_requested_highlights_become_verified_tracked_clips(
    fast: Settings,
    bucket: Any,
    records_collection: Any,
    http: ClientSession,
    landscape: Path,
    tmp_path: Path,
) -> None:
    async with storage(fast), tracking(fast), render(fast):
        source = await store_source(fast, landscape, USER, PROJECT, "v1")
        await request_render(fast, source, HIGHLIGHTS, "render:v1")
        assert await statuses_until(fast, 1) == ["rendering", "ready"]
        expected = expected_keys(source)
        assert await bucket_keys(bucket) == sorted(expected)
        tracked = await eventually(lambda: _all_tracked(records_collection, len(expected)))
        assert (await created_keys(fast))[-1] == expected[0]
        manifest = await manifest_of(bucket, http, expected[0])
        clip = await download(bucket, http, expected[-1], tmp_path / "clip.mp4")
    assert not (fast.scratch_dir("render") / "render" / "v1").exists()
    for key, record in tracked.items():
        _check_record(key, record)
    _check_manifest(manifest)
    assert listed_keys(manifest) == set(expected[2:])
    stored = await FfmpegMedia(FfmpegRunner(1), 10).probe(clip)
    assert (stored.width, stored.height, stored.has_audio) == (720, 1280, True)
    assert abs(stored.duration - 2.0) <= 0.045


def _check_record(key: str, record: dict[str, Any]) -> None:
    name = key.rpartition("/")[2]
    kind = "source" if name == "source.mp4" else name.rpartition(".")[2]
    assert (record["file_type"], record["content_type"]) == KINDS[kind]
    number = key.partition("/clips/clip_")[2][:2]
    assert record["scene_id"] == (f"highlight-{number}" if number else None)


def _check_manifest(manifest: dict[str, Any]) -> None:
    assert manifest["video_url"] is None and manifest["render"]["preset"] == "ultrafast"
    first, second = manifest["highlights"]
    assert (first["title"], first["description"]) == ("Goal! ⚽", "The goal.")
    assert (first["start"], first["end"]) == (1.0, 3.0)
    assert (second["start"], second["end"]) == (6.0, 8.0)  # clamped; the third starts past the end
    sizes = [(c["style"], c["width"], c["height"]) for c in second["clips"]]
    assert sizes == [("blur", 720, 1280), ("split", 720, 1280)]


async def _all_tracked(collection: Any, count: int) -> dict[str, dict[str, Any]] | None:
    found = await records(collection)
    return found if len(found) == count else None


async def test_without_highlights_a_short_video_is_one_clip_of_the_whole(
    fast: Settings, bucket: Any, http: ClientSession, portrait: Path
) -> None:
    async with storage(fast), tracking(fast), render(fast):
        key = await store_source(fast, portrait, USER, PROJECT, "v2")
        await request_render(fast, key, None, "render:v2")
        assert await statuses_until(fast, 1) == ["rendering", "ready"]
        manifest = await manifest_of(bucket, http, key.replace("source.mp4", "highlights.json"))
    [whole] = manifest["highlights"]
    assert (whole["title"], whole["start"], whole["end"]) == ("Highlight 1", 0.0, 4.0)
    assert [(c["style"], c["width"], c["height"]) for c in whole["clips"]] == [
        ("original", 360, 640),
        ("vertical", 720, 1280),
    ]
    assert manifest["render"]["picked_by"] == "render"


async def test_a_corrupt_source_fails_and_leaves_nothing_behind(
    fast: Settings, bucket: Any, records_collection: Any, corrupt: Path
) -> None:
    async with storage(fast), tracking(fast), render(fast):
        key = await store_source(fast, corrupt, USER, PROJECT, "v3")
        await request_render(fast, key, HIGHLIGHTS, "render:v3")
        [rendering, failed] = await statuses_until(fast, 1)
        await eventually(lambda: records_collection.find_one({"object_key": key}))
    assert rendering == "rendering"
    assert failed.startswith("failed: source.mp4 is not a decodable video: ")
    assert await bucket_keys(bucket) == [key]
    assert list(await records(records_collection)) == [key]
    assert not (fast.scratch_dir("render") / "render" / "v3").exists()


async def test_a_render_past_its_memory_limit_fails_with_the_reason(
    fast: Settings, bucket: Any, landscape: Path
) -> None:
    starved = fast.model_copy(update={"render_ffmpeg_memory_bytes": 64 * 1024 * 1024})
    async with storage(starved), render(starved):
        key = await store_source(starved, landscape, USER, PROJECT, "v6")
        await request_render(starved, key, HIGHLIGHTS[:1], "render:v6")
        statuses = await statuses_until(starved, 1)
    assert statuses[0] == "rendering"
    assert statuses[1].startswith("failed: ffmpeg ran out of memory (limit 64 MiB): ")
    assert await bucket_keys(bucket) == [key]


async def test_a_source_past_the_limits_is_failed_by_render_too(
    fast: Settings, bucket: Any, landscape: Path
) -> None:
    """A source that never went through ingest (landscape is 640x360, 8 s long)."""
    strict = fast.model_copy(update={"max_video_pixels": "320x240", "max_video_seconds": 5.0})
    async with storage(strict), render(strict):
        key = await store_source(strict, landscape, USER, PROJECT, "v7")
        await request_render(strict, key, HIGHLIGHTS[:1], "render:v7")
        statuses = await statuses_until(strict, 1)
    assert statuses == [
        "rendering",
        "failed: the video is too large: 640x360 is above the limit of 320x240 pixels; "
        "8 s is above the limit of 5 s",
    ]
    assert await bucket_keys(bucket) == [key]


async def test_the_same_request_twice_gives_the_same_objects_and_records(
    fast: Settings, bucket: Any, records_collection: Any, landscape: Path
) -> None:
    leftover = fast.scratch_dir("render") / "render" / "v4" / "clip_01_01_half-written_original.mp4"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"what a crashed render left")
    two_styles = HIGHLIGHTS[:1]
    async with storage(fast), tracking(fast), render(fast):
        key = await store_source(fast, landscape, USER, PROJECT, "v4")
        await request_render(fast, key, two_styles, "render:v4")
        await statuses_until(fast, 1)
        keys = await bucket_keys(bucket)
        first = await eventually(lambda: _all_tracked(records_collection, len(keys)))
        await request_render(fast, key, two_styles, "render:v4:again")
        assert await statuses_until(fast, 2) == ["rendering", "ready"] * 2
        assert await bucket_keys(bucket) == keys
        again = await eventually(lambda: _in_step_with(bucket, records_collection, keys))
    assert len(keys) == 6 and sorted(again) == sorted(first)
    for key, record in again.items():
        assert record["scene_id"] == first[key]["scene_id"]
        assert record["file_type"] == first[key]["file_type"]
    assert not leftover.parent.exists()


async def _in_step_with(bucket: Any, collection: Any, keys: list[str]) -> dict[str, Any] | None:
    """The records once there is exactly one per key, carrying the etag the bucket holds now."""
    now = await records(collection)
    if sorted(now) != keys:
        return None
    etags = {key: (await bucket.head(key)).etag for key in keys}
    return now if all(now[k]["metadata"]["etag"] == etags[k] for k in keys) else None


async def test_a_render_killed_mid_encode_is_redone_by_the_next_one(
    fast: Settings, bucket: Any, landscape: Path, tmp_path: Path
) -> None:
    log = tmp_path / "render.log"
    async with storage(fast), tracking(fast):
        source = await store_source(fast, landscape, USER, PROJECT, "v1")
        with _process(spawn("services.render.main", fast, log)) as doomed:
            await request_render(fast, source, HIGHLIGHTS, "render:v1")
            encoder = await eventually(lambda: _encoder_of(doomed.pid), timeout=60, interval=0.02)
            doomed.send_signal(signal.SIGKILL)
        with contextlib.suppress(psutil.Error):
            encoder.kill()  # an orphaned encode finishes on its own; not after this test
        with _process(spawn("services.render.main", fast, log)):
            statuses = await statuses_until(fast, 1)
    assert statuses == ["rendering", "rendering", "ready"]
    assert await bucket_keys(bucket) == sorted(expected_keys(source))
    assert not (fast.scratch_dir("render") / "render" / "v1").exists()


@contextlib.contextmanager
def _process(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


async def _encoder_of(pid: int) -> psutil.Process | None:
    return next((p for p in psutil.Process(pid).children() if _is_encoder(p)), None)


def _is_encoder(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):  # a probe may end while it is looked at
        return "ffmpeg" in process.name() and "libx264" in process.cmdline()
    return False


async def test_a_source_gone_from_the_bucket_fails_the_video(fast: Settings, bucket: Any) -> None:
    async with storage(fast), render(fast):
        key = f"users/{USER}/projects/{PROJECT}/videos/v5/source.mp4"
        await request_render(fast, key, HIGHLIGHTS, "render:v5")
        statuses = await statuses_until(fast, 1)
    assert statuses == ["rendering", "failed: the source video is no longer in the bucket"]
    assert await bucket_keys(bucket) == []


async def test_without_storage_render_retries_then_fails_the_video_and_dead_letters(
    fast: Settings, http: ClientSession
) -> None:
    async with render(fast) as base:
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 200
        key = f"users/{USER}/projects/{PROJECT}/videos/v6/source.mp4"
        await request_render(fast, key, HIGHLIGHTS, "render:v6")
        statuses = await statuses_until(fast, 1)
        dead = await _dead_letters(fast)
    assert statuses[:-1] == ["rendering"] * fast.max_tries
    gave_up = f"failed: render stopped: gave up after {fast.max_tries} tries: "
    assert statuses[-1].startswith(gave_up) and "presign" in statuses[-1]
    topology = topology_of(fast)
    assert [subject for subject, _ in dead] == [topology.dead_letter(topology.render_requested)]


async def _dead_letters(settings: Settings) -> list[tuple[str, bytes]]:
    client = await connect_nats(settings)
    try:
        sub = await client.jetstream().pull_subscribe(
            topology_of(settings).subject("deadletter.>"), durable=None
        )
        return [(m.subject, m.data) for m in await sub.fetch(10, timeout=2)]
    finally:
        await client.close()
