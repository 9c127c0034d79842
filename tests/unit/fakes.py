"""Fakes for the unit tests: storage over the in-memory bus, a bucket and a ledger."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

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
from services.storage.service import StorageService


async def fake_storage(store: MemoryObjectStore, work_dir: Path) -> StorageClient:
    topology = Topology()
    bus = InMemoryBus(topology)
    service = StorageService(store, bus, topology, work_dir, 60)
    await serve_answers(bus, topology, edge(StorageHandlers(service, bus, topology), topology))
    return StorageClient(bus, topology, timeout=5)


class FakeBucketAndLedger:
    """The in-memory bucket and ledger that cleanup and reconcile work on."""

    def __init__(self, work_dir: Path) -> None:
        self.store = MemoryObjectStore()
        self.records = MemoryRecordStore()
        self.work_dir = work_dir

    async def put_object(self, key: str, content_type: str) -> bytes:
        """An object whose body is its key; returns the body."""
        body = key.encode()
        path = self.work_dir / hashlib.md5(body).hexdigest()
        path.write_bytes(body)
        await self.store.put_file(key, path, content_type, {})
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
