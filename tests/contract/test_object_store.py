"""One contract for the object store: MemoryObjectStore and S3ObjectStore (nanio) alike."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientSession

from libs.errors import PermanentError
from libs.settings import Settings
from libs.storage.objects import StoredObject
from libs.storage.objectstore import MemoryObjectStore, ObjectStore
from libs.storage.s3 import S3ObjectStore, UploadTuning, s3_client

MiB = 1024 * 1024
PART = 5 * MiB
KEY = "users/alice/projects/p1/videos/v1/source.mp4"
METADATA = {"user-id": "alice", "push-request-id": "req-1", "title": "goal"}


@pytest_asyncio.fixture
async def small_part_s3(settings: Settings, bucket: S3ObjectStore) -> AsyncIterator[S3ObjectStore]:
    """The real store, with a part size small enough to make a 12 MiB file multipart."""
    async with s3_client(settings) as client:
        yield S3ObjectStore(client, bucket.bucket, tuning=UploadTuning(PART, concurrency=2))


@pytest.fixture(params=["memory", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    if request.param == "memory":
        return MemoryObjectStore("memory-bucket")
    real: ObjectStore = request.getfixturevalue("small_part_s3")
    return real


def is_real(store: ObjectStore) -> bool:
    return isinstance(store, S3ObjectStore)


def write(path: Path, body: bytes) -> Path:
    path.write_bytes(body)
    return path


def timeless(stored: StoredObject | None) -> StoredObject | None:
    """The store sets last_modified itself; compare everything else."""
    return stored.model_copy(update={"last_modified": None}) if stored else None


def multipart_etag(body: bytes, part: int) -> str:
    digests = [hashlib.md5(body[i : i + part]).digest() for i in range(0, len(body), part)]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


async def test_put_file_returns_what_head_then_returns(store: ObjectStore, tmp_path: Path) -> None:
    body = b"a small source video" * 100
    stored = await store.put_file(KEY, write(tmp_path / "a.mp4", body), "video/mp4", METADATA)
    expected = StoredObject(
        key=KEY,
        size=len(body),
        etag=hashlib.md5(body).hexdigest(),
        content_type="video/mp4",
        metadata=METADATA,
    )
    head = await store.head(KEY)
    assert head is not None and head.last_modified is not None
    assert stored.model_copy(update={"last_modified": None}) == expected
    assert head.model_copy(update={"last_modified": None}) == expected


async def test_put_file_of_an_empty_file(store: ObjectStore, tmp_path: Path) -> None:
    key = "users/alice/database.sqlite"
    stored = await store.put_file(key, write(tmp_path / "empty", b""), "application/x-sqlite3", {})
    assert (stored.size, stored.etag) == (0, hashlib.md5(b"").hexdigest())
    assert timeless(await store.head(key)) == timeless(stored)


async def test_a_second_put_replaces_the_object(store: ObjectStore, tmp_path: Path) -> None:
    await store.put_file(KEY, write(tmp_path / "one", b"first"), "video/mp4", {"v": "1"})
    second = await store.put_file(KEY, write(tmp_path / "two", b"second!"), "video/webm", {})
    expected = StoredObject(
        key=KEY, size=7, etag=hashlib.md5(b"second!").hexdigest(), content_type="video/webm"
    )
    assert timeless(second) == expected
    assert timeless(await store.head(KEY)) == expected


async def test_head_of_a_missing_key_is_none(store: ObjectStore) -> None:
    assert await store.head("users/nobody/database.sqlite") is None


async def test_put_file_of_a_missing_local_file_is_permanent(
    store: ObjectStore, tmp_path: Path
) -> None:
    with pytest.raises(PermanentError, match="missing"):
        await store.put_file(KEY, tmp_path / "absent.mp4", "video/mp4", {})
    assert await store.head(KEY) is None


async def test_a_file_larger_than_a_part_is_stored_whole(
    store: ObjectStore, tmp_path: Path
) -> None:
    body = os.urandom(12 * MiB)
    stored = await store.put_file(KEY, write(tmp_path / "big.mkv", body), "video/x-matroska", {})
    assert stored.size == len(body)
    assert await store.head(KEY) == stored
    if is_real(store):
        assert stored.etag == multipart_etag(body, PART)
        assert stored.etag.endswith("-3")
    else:
        assert stored.etag == hashlib.md5(body).hexdigest()


async def test_presign_get_gives_a_url_that_serves_the_bytes(
    store: ObjectStore, tmp_path: Path, http: ClientSession
) -> None:
    body = b"presigned bytes " * 1000
    await store.put_file(KEY, write(tmp_path / "a.mp4", body), "video/mp4", {})
    url = await store.presign_get(KEY, ttl_seconds=300)
    assert KEY in url or KEY.replace("/", "%2F") in url
    assert await fetch(http, url, store) == body


async def fetch(http: ClientSession, url: str, store: ObjectStore) -> bytes:
    if not is_real(store):
        assert isinstance(store, MemoryObjectStore)
        assert url.startswith(f"memory://{store.bucket}/")
        return store.objects[KEY][0]
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"] == "video/mp4"
        body: bytes = await response.read()
        return body


P1 = "users/alice/projects/p1/"
P10 = "users/alice/projects/p10/"


async def put(store: ObjectStore, tmp_path: Path, key: str, body: bytes) -> StoredObject:
    path = write(tmp_path / hashlib.md5(key.encode()).hexdigest(), body)
    return await store.put_file(key, path, "application/octet-stream", {})


async def put_all(store: ObjectStore, tmp_path: Path, keys: list[str]) -> None:
    for key in keys:
        await put(store, tmp_path, key, key.encode())


async def listed_keys(store: ObjectStore, prefix: str, max_keys: int) -> list[list[str]]:
    """Every non-empty page of a listing, followed from token to token until there is none.

    nanio (unlike the fake) may answer an exact fit with a token and then one empty page.
    """
    pages, token = [], None
    for _ in range(100):
        page = await store.list_page(prefix, token, max_keys)
        assert len(page.entries) <= max_keys
        if page.entries:
            pages.append([entry.key for entry in page.entries])
        if page.next_token is None:
            return pages
        token = page.next_token
    raise AssertionError("the listing never ended")


async def test_delete_many_deletes_and_names_every_key_asked(
    store: ObjectStore, tmp_path: Path
) -> None:
    doomed, kept = [f"{P1}videos/v1/source.mp4", f"{P1}videos/v2/source.mp4"], f"{P10}x.json"
    await put_all(store, tmp_path, [*doomed, kept])
    never_existed = f"{P1}videos/v3/source.mp4"
    outcome = await store.delete_many([*doomed, never_existed])
    assert sorted(outcome.deleted) == sorted([*doomed, never_existed])
    assert outcome.failed == {}
    assert [await store.head(key) for key in doomed] == [None, None]
    assert await store.head(kept) is not None


async def test_delete_many_of_nothing_deletes_nothing(store: ObjectStore, tmp_path: Path) -> None:
    await put_all(store, tmp_path, [KEY])
    outcome = await store.delete_many([])
    assert (outcome.deleted, outcome.failed) == ([], {})
    assert await store.head(KEY) is not None


async def test_delete_many_refuses_more_than_1000_keys(store: ObjectStore, tmp_path: Path) -> None:
    await put_all(store, tmp_path, [KEY])
    with pytest.raises(PermanentError):
        await store.delete_many([KEY] + [f"{P1}junk/{n}" for n in range(1000)])
    assert await store.head(KEY) is not None


async def test_an_injected_delete_failure_is_reported_and_kept(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    failing, other = f"{P1}videos/v1/source.mp4", f"{P1}videos/v2/source.mp4"
    await put_all(store, tmp_path, [failing, other])
    store.failing_keys.add(failing)
    outcome = await store.delete_many([failing, other])
    assert (outcome.deleted, list(outcome.failed)) == ([other], [failing])
    assert await store.head(failing) is not None
    assert await store.head(other) is None


async def test_list_page_follows_tokens_in_key_order(store: ObjectStore, tmp_path: Path) -> None:
    in_p1 = [f"{P1}videos/v{n}/source.mp4" for n in (3, 0, 4, 1, 2)]
    await put_all(store, tmp_path, [*in_p1, f"{P10}videos/v0/source.mp4"])
    ordered = sorted(in_p1)
    assert await listed_keys(store, P1, 2) == [ordered[:2], ordered[2:4], ordered[4:]]
    assert await listed_keys(store, P1, 5) == [ordered]
    assert await listed_keys(store, P1, 1000) == [ordered]


async def test_list_page_keeps_neighbouring_prefixes_apart(
    store: ObjectStore, tmp_path: Path
) -> None:
    p1, p10 = f"{P1}videos/v1/source.mp4", f"{P10}videos/v1/source.mp4"
    database = "users/alice/database.sqlite"
    await put_all(store, tmp_path, [p1, p10, database])
    assert await listed_keys(store, P1, 1000) == [[p1]]
    assert await listed_keys(store, P10, 1000) == [[p10]]
    assert await listed_keys(store, "", 2) == [[database, p1], [p10]]
    assert await listed_keys(store, "users/bob/", 1000) == []


async def test_list_page_describes_each_object(store: ObjectStore, tmp_path: Path) -> None:
    small, empty = f"{P1}videos/v1/highlights.json", f"{P1}videos/v1/source.mp4"
    stored = [
        await put(store, tmp_path, small, b"[1, 2, 3]"),
        await put(store, tmp_path, empty, b""),
    ]
    page = await store.list_page(P1, None, 1000)
    assert page.next_token is None
    described = [(e.key, e.size, e.etag) for e in page.entries]
    assert described == [(s.key, s.size, s.etag) for s in stored]
    for entry, put_reply in zip(page.entries, stored, strict=True):
        assert put_reply.last_modified is not None and entry.last_modified.tzinfo is not None
        assert abs(entry.last_modified - put_reply.last_modified) < timedelta(seconds=2)
