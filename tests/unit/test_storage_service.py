"""Storage's rules on the in-memory fakes: presign, verify, announce exactly one created event;
multipart begin, complete, abort and the sweep of abandoned uploads; keys outside the layout."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from libs.errors import ConflictError, PermanentError
from libs.messaging.bus import Delivery, InMemoryBus
from libs.messaging.events import (
    OBJECT_CREATED,
    AbortUploadRequest,
    BeginUploadRequest,
    CommitRequest,
    CompleteUploadRequest,
    NewObject,
    ObjectEvent,
    PartUrlsRequest,
    PresignRequest,
    PutUrlRequest,
    UploadedPart,
    decode,
)
from libs.messaging.topology import Topology
from libs.storage.objectstore import MemoryObjectStore, multipart_etag
from services.storage.service import StorageService, Timing

KEY = "users/alice/projects/p1/videos/v1/source.mp4"
CLIP = "users/alice/projects/p1/videos/v1/clips/clip_01_01_goal_original.mp4"
BODY = b"\x00\x00\x00\x18ftypmp42 not really a video but bytes all the same"
SENTINEL = b"sentinel"
TOPOLOGY = Topology("unit.")
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def service(store: MemoryObjectStore, bus: InMemoryBus | None = None) -> StorageService:
    timing = Timing(transfer_ttl_seconds=300, read_ttl_seconds=120, abandoned_after_seconds=3600)
    return StorageService(store, bus or InMemoryBus(TOPOLOGY), TOPOLOGY, timing, lambda: NOW)


def new(key: str = KEY, scene_id: str | None = None) -> NewObject:
    return NewObject(
        key=key, content_type="video/mp4", metadata={"title": "Goal"}, scene_id=scene_id
    )


async def written(storage: StorageService, obj: NewObject, body: bytes = BODY) -> None:
    """What a client does with a presigned PUT: send the body."""
    presigned = await storage.put_url(PutUrlRequest(object=obj))
    assert isinstance(storage.store, MemoryObjectStore)
    storage.store.send(presigned.url, body)


def commit(key: str = KEY, body: bytes = BODY) -> CommitRequest:
    return CommitRequest(key=key, size=len(body), etag=hashlib.md5(body).hexdigest())


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


async def test_a_committed_put_is_announced_once_with_the_contract_fields() -> None:
    store, bus = MemoryObjectStore("bkt"), InMemoryBus(TOPOLOGY)
    storage = service(store, bus)
    await written(storage, new())
    stored = await storage.commit(commit())
    [event] = await published(bus)
    assert (stored.key, stored.size, stored.metadata) == (KEY, len(BODY), {"title": "Goal"})
    assert (event.type, event.subject, event.specversion) == (OBJECT_CREATED, KEY, "1.0")
    data = event.data
    assert (data.action, data.bucket, data.object.key) == ("PutObject", "bkt", KEY)
    assert (data.object.size, data.object.eTag) == (len(BODY), hashlib.md5(BODY).hexdigest())
    assert (data.user_id, data.project_id, data.video_id) == ("alice", "p1", "v1")
    assert (data.file_type, data.content_type, data.scene_id) == ("source", "video/mp4", None)
    assert data.metadata == {"title": "Goal"}


async def test_the_stored_object_carries_its_identity_metadata() -> None:
    store = MemoryObjectStore()
    await written(service(store), new())
    stored = await store.head(KEY)
    assert stored is not None
    assert stored.metadata == {
        "title": "Goal", "user-id": "alice", "project-id": "p1", "video-id": "v1",
        "file-type": "source",
    }  # fmt: skip


async def test_a_clip_carries_its_scene_id_in_the_event_not_its_metadata() -> None:
    store, bus = MemoryObjectStore(), InMemoryBus(TOPOLOGY)
    storage = service(store, bus)
    await written(storage, new(CLIP, scene_id="h7"))
    await storage.commit(commit(CLIP))
    [event] = await published(bus)
    assert (event.data.file_type, event.data.scene_id) == ("clip", "h7")
    assert "scene-id" not in event.data.metadata


async def test_committing_twice_announces_the_same_event_once() -> None:
    store, bus = MemoryObjectStore(), InMemoryBus(TOPOLOGY)
    storage = service(store, bus)
    await written(storage, new())
    first, second = await storage.commit(commit()), await storage.commit(commit())
    assert (first.key, first.etag) == (second.key, second.etag)
    assert len(await published(bus)) == 1  # the second announcement had the same id


async def test_a_commit_with_nothing_written_is_permanent_and_announces_nothing() -> None:
    bus = InMemoryBus(TOPOLOGY)
    with pytest.raises(PermanentError, match="nothing was written"):
        await service(MemoryObjectStore(), bus).commit(commit())
    assert await published(bus) == []


async def test_a_commit_of_other_bytes_than_written_is_a_conflict() -> None:
    store, bus = MemoryObjectStore(), InMemoryBus(TOPOLOGY)
    storage = service(store, bus)
    await written(storage, new(), b"what someone else wrote")
    with pytest.raises(ConflictError):
        await storage.commit(commit())
    assert await published(bus) == []


async def test_a_multipart_upload_is_completed_verified_and_announced() -> None:
    store, bus = MemoryObjectStore(), InMemoryBus(TOPOLOGY)
    storage = service(store, bus)
    upload_id = await storage.begin_upload(BeginUploadRequest(object=new()))
    urls = await storage.part_urls(PartUrlsRequest(key=KEY, upload_id=upload_id, first=1, count=2))
    bodies = [b"a" * 100, b"b" * 30]
    etags = [store.send(url, body) for url, body in zip(urls, bodies, strict=True)]
    parts = [UploadedPart(number=n, etag=e) for n, e in enumerate(etags, 1)]
    request = CompleteUploadRequest(key=KEY, upload_id=upload_id, parts=parts, size=130)
    stored = await storage.complete_upload(request)
    assert (stored.size, stored.etag) == (130, multipart_etag(etags))
    again = await storage.complete_upload(request)  # a retried completion is no error
    [event] = await published(bus)
    assert (event.data.action, again.etag) == ("CompleteMultipartUpload", stored.etag)
    assert store.objects[KEY][0] == b"".join(bodies)


async def test_completing_with_parts_that_were_not_sent_fails() -> None:
    store = MemoryObjectStore()
    storage = service(store)
    upload_id = await storage.begin_upload(BeginUploadRequest(object=new()))
    parts = [UploadedPart(number=1, etag=hashlib.md5(b"never sent").hexdigest())]
    with pytest.raises(PermanentError, match="InvalidPart"):
        await storage.complete_upload(
            CompleteUploadRequest(key=KEY, upload_id=upload_id, parts=parts, size=10)
        )


async def test_an_aborted_upload_is_gone() -> None:
    store = MemoryObjectStore()
    storage = service(store)
    upload_id = await storage.begin_upload(BeginUploadRequest(object=new()))
    await storage.abort_upload(AbortUploadRequest(key=KEY, upload_id=upload_id))
    await storage.abort_upload(AbortUploadRequest(key=KEY, upload_id=upload_id))  # no error
    assert await store.open_uploads() == []


async def test_the_sweep_aborts_only_uploads_older_than_the_grace_period() -> None:
    store = MemoryObjectStore()
    storage = service(store)
    old = await storage.begin_upload(BeginUploadRequest(object=new()))
    young = await storage.begin_upload(BeginUploadRequest(object=new(CLIP)))
    store.uploads[old].initiated = NOW - timedelta(hours=2)
    store.uploads[young].initiated = NOW - timedelta(minutes=5)
    assert await storage.sweep_abandoned() == 1
    assert [upload.upload_id for upload in await store.open_uploads()] == [young]


BAD_KEYS = ["users/alice/notes.txt", "users/../x/database.sqlite", "", "users/a b/database.sqlite"]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_a_key_outside_the_layout_is_refused_everywhere(key: str) -> None:
    store = MemoryObjectStore()
    storage = service(store)
    calls = [
        storage.put_url(PutUrlRequest(object=new(key))),
        storage.begin_upload(BeginUploadRequest(object=new(key))),
        storage.part_urls(PartUrlsRequest(key=key, upload_id="u", first=1, count=1)),
        storage.commit(commit(key)),
        storage.abort_upload(AbortUploadRequest(key=key, upload_id="u")),
        storage.presign(PresignRequest(key=key)),
    ]
    for call in calls:
        with pytest.raises(PermanentError):
            await call
    assert (store.objects, store.uploads) == ({}, {})


async def test_presign_checks_the_key_then_asks_the_store() -> None:
    storage = service(MemoryObjectStore("bkt"))
    assert await storage.presign(PresignRequest(key=KEY)) == f"memory://bkt/{KEY}?ttl=120"
