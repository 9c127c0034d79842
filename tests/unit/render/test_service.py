"""Render logic and its NATS edge on fakes: order of pushes, all or nothing, statuses."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from libs.errors import PermanentError, TransientError
from libs.media.limits import MediaLimits
from libs.media.probe import MediaInfo
from libs.media.runner import FfmpegError
from libs.messaging.bus import Delivery
from libs.messaging.events import RenderRequest, RenderStatus, decode, encode
from libs.messaging.topology import Topology
from libs.storage.objects import StoredObject
from services.render.handlers import RenderHandlers, attempt_token
from services.render.model import EncodeJob, FrameSize, Signal
from services.render.service import RenderOptions, RenderService, all_or_nothing
from services.render.workspace import Workspace

PREFIX = "users/alice/projects/p1/videos/v1"
TOPOLOGY = Topology("unit.")


@dataclass
class FakeMedia:
    source: MediaInfo
    fail_style: str | None = None
    misframe_style: str | None = None
    jobs: list[EncodeJob] = field(default_factory=list)
    outputs: dict[Path, MediaInfo] = field(default_factory=dict)
    seen_in_work_dir: set[str] = field(default_factory=set)
    analysed: bool = False

    async def probe(self, path: Path) -> MediaInfo:
        return self.source if path.stem == "source" else self.outputs[path]

    async def analyse(self, path: Path, probe: MediaInfo) -> Signal:
        self.analysed = True
        return Signal(scene_changes=[(40.0, 30.0)], loudness=[])

    async def encode(self, job: EncodeJob) -> None:
        self.jobs.append(job)
        self.seen_in_work_dir |= {p.name for p in job.output.parent.iterdir()}
        await asyncio.sleep(0)
        if job.style == self.fail_style:
            raise FfmpegError("ffmpeg failed: Conversion failed!")
        size = job.vertical if job.style != "original" else FrameSize(640, 360)
        if job.style == self.misframe_style:
            size = FrameSize(640, 360)
        job.output.write_bytes(b"mp4")
        self.outputs[job.output] = MediaInfo(
            job.length, size.width, size.height, "h264", 25.0, True
        )

    async def thumbnail(self, clip: Path, output: Path, length: float) -> None:
        output.write_bytes(b"\xff\xd8jpeg")
        frame = self.outputs[clip]
        self.outputs[output] = MediaInfo(0.04, frame.width, frame.height, "mjpeg", 25.0, False)

    async def version(self) -> str:
        return "n-test"


@dataclass
class FakeStorage:
    down_after: int | None = None
    pushed: list[tuple[str, str, str | None, bytes]] = field(default_factory=list)

    async def download(self, key: str, dest: Path) -> None:
        assert key == f"{PREFIX}/source.mp4"
        dest.write_bytes(b"source video")

    async def push(
        self, path: Path, key: str, content_type: str, scene_id: str | None
    ) -> StoredObject:
        if self.down_after is not None and len(self.pushed) >= self.down_after:
            raise TransientError("storage did not answer")
        body = path.read_bytes()
        self.pushed.append((key, content_type, scene_id, body))
        return StoredObject(key=key, size=len(body), etag="etag")

    @property
    def keys(self) -> list[str]:
        return [key for key, *_ in self.pushed]


@dataclass
class Rig:
    media: FakeMedia
    storage: FakeStorage
    workspace: Workspace
    service: RenderService
    statuses: list[str] = field(default_factory=list)

    async def report(self, status: str, error: str | None) -> None:
        self.statuses.append(status if error is None else f"{status}: {error}")

    async def render(self, request: RenderRequest) -> None:
        await self.service.render(request, self.report)  # type: ignore[arg-type]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    media = FakeMedia(MediaInfo(60.0, 640, 360, "h264", 25.0, True))
    storage, workspace = FakeStorage(), Workspace(tmp_path / "work")
    limits = MediaLimits(3840, 2160, 4 * 3600.0)
    options = RenderOptions("ultrafast", FrameSize(720, 1280), "", limits)
    return Rig(media, storage, workspace, RenderService(media, storage, workspace, options))


def request(highlights: list[dict[str, object]] | None = None, **changes: object) -> RenderRequest:
    fields = {
        "user_id": "alice",
        "project_id": "p1",
        "video_id": "v1",
        "source_key": f"{PREFIX}/source.mp4",
        "highlights": highlights,
    }
    return RenderRequest.model_validate({**fields, **changes})


TWO = [
    {"start": 1, "end": 3, "title": "Goal", "styles": ["original", "vertical"]},
    {"start": 50, "end": 90, "title": "Save", "styles": ["split"]},
]


async def test_every_output_is_pushed_and_highlights_json_last(rig: Rig) -> None:
    await rig.render(request(TWO))
    clips = f"{PREFIX}/clips"
    pushed = {key: (content_type, scene) for key, content_type, scene, _ in rig.storage.pushed}
    assert pushed == {
        f"{clips}/clip_01_01_goal_original.mp4": ("video/mp4", "highlight-01"),
        f"{clips}/clip_01_01_goal_original.jpg": ("image/jpeg", "highlight-01"),
        f"{clips}/clip_01_02_goal_vertical.mp4": ("video/mp4", "highlight-01"),
        f"{clips}/clip_01_02_goal_vertical.jpg": ("image/jpeg", "highlight-01"),
        f"{clips}/clip_02_01_save_split.mp4": ("video/mp4", "highlight-02"),
        f"{clips}/clip_02_01_save_split.jpg": ("image/jpeg", "highlight-02"),
        f"{PREFIX}/highlights.json": ("application/json", None),
    }
    assert rig.storage.keys[-1] == f"{PREFIX}/highlights.json"
    manifest = json.loads(rig.storage.pushed[-1][3])
    listed = [
        key
        for h in manifest["highlights"]
        for c in h["clips"]
        for key in (c["key"], c["thumbnail_key"])
    ]
    assert sorted(listed) == sorted(rig.storage.keys[:-1]) and len(listed) == 6
    assert manifest["highlights"][1]["end"] == 60.0  # clamped to the source
    assert rig.statuses == ["rendering", "ready"]
    assert not rig.workspace.directory("v1").exists()


async def test_clips_are_cut_where_the_highlights_are(rig: Rig) -> None:
    await rig.render(request(TWO))
    cuts = sorted((j.start, j.length, j.style, j.preset, j.with_audio) for j in rig.media.jobs)
    assert cuts == [
        (1.0, 2.0, "original", "ultrafast", True),
        (1.0, 2.0, "vertical", "ultrafast", True),
        (50.0, 10.0, "split", "ultrafast", True),
    ]


async def test_a_failed_encode_pushes_nothing_and_fails_the_video(rig: Rig) -> None:
    rig.media.fail_style = "split"
    await rig.render(request(TWO))
    assert rig.storage.pushed == []
    assert rig.statuses == ["rendering", "failed: ffmpeg failed: Conversion failed!"]
    assert not rig.workspace.directory("v1").exists()


async def test_an_output_of_the_wrong_shape_pushes_nothing(rig: Rig) -> None:
    rig.media.misframe_style = "vertical"
    await rig.render(request(TWO))
    assert rig.storage.pushed == []
    assert rig.statuses == [
        "rendering",
        "failed: clip_01_02_goal_vertical.mp4 is 640x360, not 720x1280",
    ]


async def test_a_source_past_the_limits_fails_before_any_encode(rig: Rig) -> None:
    rig.media.source = MediaInfo(60.0, 8192, 8192, "h264", 250.0, True)
    await rig.render(request(TWO))
    assert rig.media.jobs == [] and rig.storage.pushed == []
    assert rig.statuses == [
        "rendering",
        "failed: the video is too large: 8192x8192 is above the limit of 3840x2160 pixels; "
        "250 fps is above the limit of 240 fps",
    ]


async def test_storage_trouble_is_retried_not_reported_as_failure(rig: Rig) -> None:
    rig.storage.down_after = 3
    with pytest.raises(TransientError):
        await rig.render(request(TWO))
    assert f"{PREFIX}/highlights.json" not in rig.storage.keys
    assert rig.statuses == ["rendering"]
    assert not rig.workspace.directory("v1").exists()


async def test_without_highlights_render_picks_three_from_the_signal(rig: Rig) -> None:
    await rig.render(request(None))
    assert rig.media.analysed
    manifest = json.loads(rig.storage.pushed[-1][3])
    assert manifest["render"]["picked_by"] == "render"
    picked = [(h["title"], h["styles"]) for h in manifest["highlights"]]
    assert picked == [(f"Highlight {n}", ["original", "vertical"]) for n in (1, 2, 3)]
    assert len(rig.storage.pushed) == 3 * 2 * 2 + 1


async def test_a_restart_begins_with_an_empty_work_dir(rig: Rig) -> None:
    leftover = rig.workspace.directory("v1") / "clip_01_01_goal_original.mp4"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half an encode from a crashed render")
    await rig.render(request(TWO))
    assert rig.media.seen_in_work_dir <= {"source.mp4", *(Path(k).name for k in rig.storage.keys)}
    assert rig.storage.pushed[0][3] == b"mp4"


async def test_a_request_for_another_videos_source_is_refused_before_anything(rig: Rig) -> None:
    with pytest.raises(PermanentError, match="not this video's source"):
        await rig.render(request(TWO, video_id="v2"))
    assert rig.statuses == [] and rig.media.jobs == []


async def test_one_permanent_failure_stops_the_rest_and_is_the_one_raised() -> None:
    stopped = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            stopped.set()

    async def broken(error: Exception) -> None:
        await asyncio.sleep(0.01)
        raise error

    with pytest.raises(PermanentError, match="corrupt"):
        await all_or_nothing(
            [slow(), broken(TransientError("later")), broken(PermanentError("corrupt"))]
        )
    assert stopped.is_set()
    assert await all_or_nothing([asyncio.sleep(0, result=1), asyncio.sleep(0, result=2)]) == [1, 2]


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[tuple[str, RenderStatus, str]] = []

    async def publish(self, subject: str, payload: bytes, *, msg_id: str) -> None:
        self.published.append((subject, decode(RenderStatus, payload), msg_id))


def delivery(data: bytes, msg_id: str, tries: int = 1) -> Delivery:
    return Delivery(TOPOLOGY.render_requested, data, tries, {"Nats-Msg-Id": msg_id})


def test_every_delivery_of_every_request_has_its_own_attempt_token() -> None:
    data = encode(request(TWO))
    tokens = {
        attempt_token(delivery(data, "render:v1", 1)),
        attempt_token(delivery(data, "render:v1", 2)),
        attempt_token(delivery(data, "render:v1:again", 1)),
    }
    assert len(tokens) == 3
    assert attempt_token(delivery(data, "render:v1", 2)) in tokens


async def test_statuses_of_a_retry_are_not_deduplicated(rig: Rig) -> None:
    bus = RecordingBus()
    handlers = RenderHandlers(rig.service, bus, TOPOLOGY)  # type: ignore[arg-type]
    data = encode(request(TWO))
    await handlers.on_render_requested(delivery(data, "render:v1", 1))
    await handlers.on_render_requested(delivery(data, "render:v1", 2))
    statuses = [(s.video_id, s.status) for _, s, _ in bus.published]
    assert statuses == [("v1", "rendering"), ("v1", "ready")] * 2
    assert len({msg_id for *_, msg_id in bus.published}) == 4
    assert {subject for subject, *_ in bus.published} == {TOPOLOGY.render_status}


async def test_a_request_given_up_on_fails_the_video_with_the_reason(rig: Rig) -> None:
    bus = RecordingBus()
    handlers = RenderHandlers(rig.service, bus, TOPOLOGY)  # type: ignore[arg-type]
    await handlers.on_render_dead(delivery(encode(request(TWO)), "m", 8), "gave up after 8 tries")
    await handlers.on_render_dead(delivery(b"{not json", "m2"), "malformed")
    [(_, status, _)] = bus.published
    assert (status.status, status.error) == ("failed", "render stopped: gave up after 8 tries")
    with pytest.raises(PermanentError, match="malformed RenderRequest"):
        await handlers.on_render_requested(delivery(b"{not json", "m3"))
