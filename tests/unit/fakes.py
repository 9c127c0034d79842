"""Storage reached over the in-memory bus, answering from an in-memory bucket."""

from __future__ import annotations

from pathlib import Path

from libs.bus import InMemoryBus
from libs.objectstore import MemoryObjectStore
from libs.storage_client import StorageClient
from libs.topology import Topology
from services.storage.handlers import StorageHandlers
from services.storage.service import StorageService


async def fake_storage(store: MemoryObjectStore, work_dir: Path) -> StorageClient:
    topology = Topology()
    bus = InMemoryBus(topology)
    service = StorageService(store, bus, topology, work_dir, 60)
    for subject, responder in StorageHandlers(service, bus, topology).responders().items():
        await bus.serve(subject, responder)
    return StorageClient(bus, topology, timeout=5)
