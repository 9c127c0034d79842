"""StorageClient over the in-memory bus, answered by a real StorageService on the fake store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from libs.errors import ConflictError, PermanentError, TransientError
from libs.messaging.bus import InMemoryBus
from libs.messaging.events import (
    DeleteReply,
    HeadReply,
    ListReply,
    ObjectRef,
    StoredReply,
    encode,
)
from libs.messaging.topology import Topology
from libs.runtime.edge import serve_answers
from libs.storage.objects import StoredObject
from libs.storage.objectstore import MemoryObjectStore
from libs.storage.storage_client import StorageClient
from services.storage.app import edge
from services.storage.handlers import StorageHandlers
from services.storage.service import StorageService
from tests.unit.fakes import TIMING, put_object

TOPOLOGY = Topology("unit.")
P1 = "users/alice/projects/p1/"
SOURCE = f"{P1}videos/v1/source.mp4"


class BrokenStore(MemoryObjectStore):
    """A store whose server is down: every head is a transient failure."""

    async def head(self, key: str) -> StoredObject | None:
        raise TransientError("object store unreachable")


async def client_for(store: MemoryObjectStore, _tmp_path: Path | None = None) -> StorageClient:
    bus = InMemoryBus(TOPOLOGY)
    handlers = StorageHandlers(StorageService(store, bus, TOPOLOGY, TIMING))
    await serve_answers(bus, TOPOLOGY, edge(handlers, TOPOLOGY, sweep_seconds=3600))
    return StorageClient(bus, TOPOLOGY, timeout=5)


async def answering(subject: str, reply: bytes) -> StorageClient:
    """A client whose bus answers `subject` with a fixed reply."""
    bus = InMemoryBus(TOPOLOGY)

    async def respond(_payload: bytes) -> bytes:
        return reply

    await bus.serve(subject, respond)
    return StorageClient(bus, TOPOLOGY, timeout=5)


async def fill(store: MemoryObjectStore, _tmp_path: Path, keys: list[str]) -> None:
    for key in keys:
        await put_object(store, key, b"bytes", "application/octet-stream")


async def pages_of(client: StorageClient, prefix: str) -> list[list[str]]:
    return [[listed.key for listed in page] async for page in client.list_pages(prefix)]


async def test_list_pages_follows_the_token_across_pages(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    keys = [f"{P1}videos/v{n:04d}/source.mp4" for n in range(2500)]
    await fill(store, tmp_path, [*reversed(keys), "users/alice/projects/p10/videos/v/source.mp4"])
    pages = await pages_of(await client_for(store, tmp_path), P1)
    assert [len(page) for page in pages] == [1000, 1000, 500]
    assert [key for page in pages for key in page] == keys


async def test_list_pages_of_an_exact_page_is_one_page(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    keys = [f"{P1}videos/v{n:04d}/source.mp4" for n in range(1000)]
    await fill(store, tmp_path, keys)
    assert await pages_of(await client_for(store, tmp_path), P1) == [keys]


async def test_list_pages_of_an_empty_prefix_yields_nothing(tmp_path: Path) -> None:
    client = await client_for(MemoryObjectStore(), tmp_path)
    assert await pages_of(client, P1) == []


async def test_list_pages_carries_size_etag_and_time(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    await fill(store, tmp_path, [SOURCE])
    pages = [page async for page in (await client_for(store, tmp_path)).list_pages(P1)]
    head = await store.head(SOURCE)
    assert head is not None
    listed = pages[0][0]
    assert (listed.size, listed.etag, listed.last_modified) == (5, head.etag, head.last_modified)


async def test_delete_and_head_round_trip(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    await fill(store, tmp_path, [SOURCE])
    client = await client_for(store, tmp_path)
    head = await client.head(SOURCE)
    assert head is not None and head.content_type == "application/octet-stream"
    reply = await client.delete([ObjectRef(key=SOURCE, etag="e")])
    assert (reply.deleted, reply.failed) == ([SOURCE], [])
    assert await client.head(SOURCE) is None


async def test_a_bad_key_is_permanent() -> None:
    client = await client_for(MemoryObjectStore())
    with pytest.raises(PermanentError, match="not a cliptrail object key"):
        await client.commit("junk/a.mp4", 5, "etag")


async def test_a_commit_of_nothing_written_is_permanent() -> None:
    client = await client_for(MemoryObjectStore())
    with pytest.raises(PermanentError, match="nothing was written"):
        await client.commit(SOURCE, 5, "etag")


async def test_a_store_failure_comes_back_transient(tmp_path: Path) -> None:
    client = await client_for(BrokenStore(), tmp_path)
    with pytest.raises(TransientError, match="unreachable"):
        await client.head(SOURCE)


async def test_a_reply_marked_permanent_raises_permanent() -> None:
    reply = encode(StoredReply(error="refused", permanent=True))
    client = await answering(TOPOLOGY.commit, reply)
    with pytest.raises(PermanentError, match="refused"):
        await client.commit(SOURCE, 5, "etag")


async def test_a_reply_marked_conflict_raises_conflict() -> None:
    reply = encode(StoredReply(error="changed", permanent=True, conflict=True))
    client = await answering(TOPOLOGY.commit, reply)
    with pytest.raises(ConflictError, match="changed"):
        await client.commit(SOURCE, 5, "etag")


async def test_a_reply_error_without_the_mark_is_transient() -> None:
    client = await answering(TOPOLOGY.commit, encode(StoredReply(error="busy")))
    with pytest.raises(TransientError, match="busy"):
        await client.commit(SOURCE, 5, "etag")


FAILING_CALLS: dict[str, tuple[str, BaseModel, Callable[[StorageClient], Awaitable[object]]]] = {
    "list": (TOPOLOGY.list_rpc, ListReply(error="list failed"), lambda c: pages_of(c, P1)),
    "head": (TOPOLOGY.head_rpc, HeadReply(error="head failed"), lambda c: c.head(SOURCE)),
    "delete": (
        TOPOLOGY.delete_rpc,
        DeleteReply(error="delete failed"),
        lambda c: c.delete([ObjectRef(key=SOURCE)]),
    ),
}


@pytest.mark.parametrize("name", sorted(FAILING_CALLS))
async def test_errors_of_list_head_and_delete_are_transient(name: str) -> None:
    subject, reply, call = FAILING_CALLS[name]
    client = await answering(subject, encode(reply))
    with pytest.raises(TransientError, match=f"{name} failed"):
        await call(client)


async def test_no_storage_answering_is_transient() -> None:
    client = StorageClient(InMemoryBus(TOPOLOGY), TOPOLOGY, timeout=5)
    with pytest.raises(TransientError, match="no responder"):
        await client.head(SOURCE)
