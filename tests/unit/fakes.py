"""Fakes for the unit tests: storage over the in-memory bus, a bucket and a ledger."""

from __future__ import annotations

from datetime import datetime

from libs.messaging.bus import InMemoryBus
from libs.messaging.topology import Topology
from libs.runtime.edge import serve_answers
from libs.storage.keys import parse_key
from libs.storage.objects import FileRecord
from libs.storage.objectstore import MemoryObjectStore
from libs.storage.records import MemoryRecordStore
from libs.storage.storage_client import StorageClient
from services.storage.app import edge
from services.storage.handlers import StorageHandlers
from services.storage.service import StorageService, Timing

TIMING = Timing(transfer_ttl_seconds=60, read_ttl_seconds=60, abandoned_after_seconds=3600)


async def fake_storage(store: MemoryObjectStore) -> StorageClient:
    topology = Topology()
    bus = InMemoryBus(topology)
    handlers = StorageHandlers(StorageService(store, bus, topology, TIMING))
    await serve_answers(bus, topology, edge(handlers, topology, sweep_seconds=3600))
    return StorageClient(bus, topology, timeout=5)


async def put_object(store: MemoryObjectStore, key: str, body: bytes, content_type: str) -> None:
    """Write an object as a client of storage would: a presigned PUT, carried out."""
    presigned = await store.presign_put(key, content_type, {}, None, 60)
    store.send(presigned.url, body)


class FakeBucketAndLedger:
    """The in-memory bucket and ledger that cleanup and reconcile work on."""

    def __init__(self) -> None:
        self.store = MemoryObjectStore()
        self.records = MemoryRecordStore()

    async def put_object(self, key: str, content_type: str) -> bytes:
        """An object whose body is its key; returns the body."""
        body = key.encode()
        await put_object(self.store, key, body, content_type)
        return body


def fake_record(key: str, size: int, etag: str, content_type: str, when: datetime) -> FileRecord:
    parsed = parse_key(key)
    return FileRecord(
        object_key=key,
        project_id=parsed.project_id,
        user_id=parsed.user_id,
        scene_id=None,
        file_type=parsed.file_type,
        size_bytes=size,
        content_type=content_type,
        metadata={"video_id": parsed.video_id, "etag": etag},
        created_at=when,
        updated_at=when,
    )
