"""Storage refuses keys outside the layout on delete, presign and list, and tracking refuses
invalid ids, each with an error reply, and both keep serving, over the real bus and bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from libs.messaging.events import (
    DeleteReply,
    DeleteRequest,
    ListReply,
    ListRequest,
    ObjectRef,
    PresignReply,
    PresignRequest,
    RecordsQuery,
    RecordsReply,
    UsageQuery,
    UsageReply,
    decode,
    encode,
)
from libs.messaging.topology import INGEST, TRACKING
from libs.runtime.wiring import topology_of
from libs.settings import Settings
from tests.support import connect_nats, plant, storage, tracking

pytestmark = pytest.mark.integration


R = TypeVar("R", bound=BaseModel)


async def ask(
    settings: Settings, identity: str, subject: str, request: BaseModel, reply: type[R]
) -> R:
    client = await connect_nats(settings, identity)
    try:
        answer = await client.request(subject, encode(request), timeout=10)
        return decode(reply, answer.data)
    finally:
        await client.close()


async def test_storage_refuses_keys_and_prefixes_outside_the_layout(
    settings: Settings, bucket: Any, small_video: Path
) -> None:
    topology = topology_of(settings)
    kept = ["junk/left-behind.bin", "users/alice/notes.txt"]
    climbing = "users/alice/projects/p1/../../bob/database.sqlite"
    inside = "users/alice/projects/p1/videos/v1/stray.tmp"
    for key in [*kept, inside]:
        await plant(bucket, key, small_video, "application/octet-stream")
    async with storage(settings):
        refs = [ObjectRef(key=key, etag="") for key in [*kept, climbing, inside]]
        reply = await ask(
            settings, TRACKING, topology.delete_rpc, DeleteRequest(objects=refs), DeleteReply
        )
        assert reply.deleted == [inside]
        assert sorted(f.key for f in reply.failed) == sorted([*kept, climbing])
        for prefix in ("junk/", "users/", "users/alice", "users/alice/projects/"):
            listing = await ask(
                settings, TRACKING, topology.list_rpc, ListRequest(prefix=prefix), ListReply
            )
            assert listing.permanent and "prefix" in (listing.error or "")
        presign = PresignRequest(key="junk/left-behind.bin")
        refused = await ask(settings, INGEST, topology.presign, presign, PresignReply)
        assert refused.permanent and refused.url is None
        whole = await ask(settings, TRACKING, topology.list_rpc, ListRequest(prefix=""), ListReply)
    assert whole.error is None
    assert sorted(o.key for o in whole.objects) == sorted(kept)
    for key in kept:
        assert await bucket.head(key) is not None


async def test_tracking_answers_invalid_ids_with_an_error_and_keeps_serving(
    settings: Settings, records_collection: Any
) -> None:
    topology = topology_of(settings)
    async with tracking(settings):
        bad = RecordsQuery(project_id="../../etc")
        refused = await ask(settings, INGEST, topology.records_rpc, bad, RecordsReply)
        assert refused.permanent and "project_id" in (refused.error or "")
        usage = UsageQuery(user_id="a b")
        assert (await ask(settings, INGEST, topology.usage_rpc, usage, UsageReply)).permanent
        good = RecordsQuery(project_id="p1")
        answered = await ask(settings, INGEST, topology.records_rpc, good, RecordsReply)
    assert answered.error is None
