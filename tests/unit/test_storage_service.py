"""Storage logic on the in-memory fakes: push, verify, announce exactly one created event."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from pathlib import Path

import pytest

from libs.errors import PermanentError
from libs.messaging.bus import Delivery, InMemoryBus
from libs.messaging.events import OBJECT_CREATED, ObjectEvent, PresignRequest, PushRequest, decode
from libs.messaging.topology import Topology
from libs.storage.objectstore import MemoryObjectStore
from services.storage.service import REQUEST_ID_META, StorageService, inside_work_dir

KEY = "users/alice/projects/p1/videos/v1/source.mp4"
CLIP = "users/alice/projects/p1/videos/v1/clips/clip_01_01_goal_original.mp4"
BODY = b"\x00\x00\x00\x18ftypmp42 not really a video but bytes all the same"
SENTINEL = b"sentinel"
TOPOLOGY = Topology("unit.")


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "uploads").mkdir(parents=True)
    (root / "uploads" / "a.mp4").write_bytes(BODY)
    return root


def service(work_dir: Path, store: MemoryObjectStore, bus: InMemoryBus) -> StorageService:
    return StorageService(store, bus, TOPOLOGY, work_dir, presign_ttl_seconds=120)


def push_request(key: str = KEY, **changes: object) -> PushRequest:
    fields: dict[str, object] = {
        "request_id": "req-1",
        "local_path": "uploads/a.mp4",
        "key": key,
        "content_type": "video/mp4",
        "metadata": {"title": "Goal"},
    }
    return PushRequest.model_validate({**fields, **changes})


async def published(bus: InMemoryBus) -> list[ObjectEvent]:
    """Every created event on the bus so far, in order (read up to a sentinel of our own)."""
    await bus.publish(TOPOLOGY.object_created, SENTINEL, msg_id=uuid.uuid4().hex)
    seen: list[ObjectEvent] = []
    done = asyncio.Event()

    async def collect(delivery: Delivery) -> None:
        if delivery.data == SENTINEL:
            done.set()
        else:
            seen.append(decode(ObjectEvent, delivery.data))

    spec = TOPOLOGY.consumer("unit", TOPOLOGY.object_created)
    task = asyncio.create_task(bus.run_consumer(spec, collect))
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return seen


async def test_push_stores_the_file_and_announces_one_created_event(work_dir: Path) -> None:
    store, bus = MemoryObjectStore("bkt"), InMemoryBus(TOPOLOGY)
    stored = await service(work_dir, store, bus).push(push_request())
    [event] = await published(bus)
    assert (stored.key, stored.size) == (KEY, len(BODY))
    assert (event.type, event.subject, event.specversion) == (OBJECT_CREATED, KEY, "1.0")
    data = event.data
    assert (data.action, data.bucket, data.object.key) == ("PutObject", "bkt", KEY)
    assert (data.object.size, data.object.eTag) == (len(BODY), hashlib.md5(BODY).hexdigest())
    assert (data.user_id, data.project_id, data.video_id) == ("alice", "p1", "v1")
    assert (data.file_type, data.content_type, data.scene_id) == ("source", "video/mp4", None)
    assert data.metadata == {"title": "Goal"}


async def test_the_stored_object_carries_its_identity_metadata(work_dir: Path) -> None:
    store = MemoryObjectStore()
    await service(work_dir, store, InMemoryBus(TOPOLOGY)).push(push_request())
    stored = await store.head(KEY)
    assert stored is not None
    assert stored.metadata == {
        "title": "Goal", "user-id": "alice", "project-id": "p1", "video-id": "v1",
        "file-type": "source", REQUEST_ID_META: "req-1",
    }  # fmt: skip


async def test_a_clip_push_carries_its_scene_id(work_dir: Path) -> None:
    store, bus = MemoryObjectStore(), InMemoryBus(TOPOLOGY)
    await service(work_dir, store, bus).push(push_request(CLIP, scene_id="h7"))
    [event] = await published(bus)
    assert (event.data.file_type, event.data.scene_id) == ("clip", "h7")
    assert "scene-id" not in event.data.metadata


async def test_pushing_the_same_file_twice_gives_the_same_event_id(work_dir: Path) -> None:
    store, bus = MemoryObjectStore(), InMemoryBus(TOPOLOGY)
    first = await service(work_dir, store, bus).push(push_request())
    second = await service(work_dir, store, bus).push(push_request())
    assert (first.key, first.etag) == (second.key, second.etag)
    assert len(await published(bus)) == 1  # the second announcement had the same id


async def test_a_missing_file_with_no_object_is_a_permanent_error(work_dir: Path) -> None:
    bus = InMemoryBus(TOPOLOGY)
    request = push_request(local_path="uploads/absent.mp4")
    with pytest.raises(PermanentError, match="missing"):
        await service(work_dir, MemoryObjectStore(), bus).push(request)
    assert await published(bus) == []


async def test_a_redelivered_push_whose_file_is_gone_re_announces(work_dir: Path) -> None:
    store = MemoryObjectStore()
    first_bus = InMemoryBus(TOPOLOGY)
    await service(work_dir, store, first_bus).push(push_request())
    (work_dir / "uploads" / "a.mp4").unlink()
    later_bus = InMemoryBus(TOPOLOGY)
    await service(work_dir, store, later_bus).push(push_request())
    [first], [again] = await published(first_bus), await published(later_bus)
    assert again.id == first.id
    assert again.data.object == first.data.object


async def test_a_gone_file_whose_object_came_from_another_request_is_permanent(
    work_dir: Path,
) -> None:
    store = MemoryObjectStore()
    await service(work_dir, store, InMemoryBus(TOPOLOGY)).push(push_request())
    (work_dir / "uploads" / "a.mp4").unlink()
    with pytest.raises(PermanentError, match="missing"):
        await service(work_dir, store, InMemoryBus(TOPOLOGY)).push(push_request(request_id="r2"))


@pytest.mark.parametrize("key", ["users/alice/notes.txt", "users/../x/database.sqlite", ""])
async def test_a_key_outside_the_layout_is_a_permanent_error(work_dir: Path, key: str) -> None:
    store = MemoryObjectStore()
    with pytest.raises(PermanentError):
        await service(work_dir, store, InMemoryBus(TOPOLOGY)).push(push_request(key))
    assert store.objects == {}


async def test_a_local_path_outside_the_work_dir_is_a_permanent_error(work_dir: Path) -> None:
    (work_dir.parent / "secret.mp4").write_bytes(b"secret")
    store = MemoryObjectStore()
    with pytest.raises(PermanentError):
        await service(work_dir, store, InMemoryBus(TOPOLOGY)).push(
            push_request(local_path="../secret.mp4")
        )
    assert store.objects == {}


async def test_presign_checks_the_key_then_asks_the_store(work_dir: Path) -> None:
    storage = service(work_dir, MemoryObjectStore("bkt"), InMemoryBus(TOPOLOGY))
    assert await storage.presign(PresignRequest(key=KEY)) == f"memory://bkt/{KEY}?ttl=120"
    with pytest.raises(PermanentError):
        await storage.presign(PresignRequest(key="../etc/passwd"))


@pytest.mark.parametrize(
    "local_path", ["../x", "a/../../x", "/etc/passwd", "", ".", "a/..", "a\x00b", "\x00"]
)
def test_inside_work_dir_rejects_paths_that_leave_or_name_the_root(
    tmp_path: Path, local_path: str
) -> None:
    with pytest.raises(PermanentError):
        inside_work_dir(tmp_path, local_path)


def test_inside_work_dir_rejects_a_symlink_that_points_outside(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    (tmp_path / "outside.mp4").write_bytes(b"x")
    (root / "link.mp4").symlink_to(tmp_path / "outside.mp4")
    with pytest.raises(PermanentError):
        inside_work_dir(root, "link.mp4")


def test_inside_work_dir_accepts_a_nested_relative_path(tmp_path: Path) -> None:
    assert inside_work_dir(tmp_path, "a/b/c.mp4") == tmp_path.resolve() / "a" / "b" / "c.mp4"
    assert inside_work_dir(tmp_path, "a/./b/../c.mp4") == tmp_path.resolve() / "a" / "c.mp4"
