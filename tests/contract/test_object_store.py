"""One contract for the object store: MemoryObjectStore and S3ObjectStore (nanio) alike."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientSession

from libs.errors import PermanentError
from libs.objectstore import MemoryObjectStore, ObjectStore, StoredObject
from libs.s3 import S3ObjectStore, UploadTuning, s3_client
from libs.settings import Settings

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
    return replace(stored, last_modified=None) if stored else None


def multipart_etag(body: bytes, part: int) -> str:
    digests = [hashlib.md5(body[i : i + part]).digest() for i in range(0, len(body), part)]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


async def test_put_file_returns_what_head_then_returns(store: ObjectStore, tmp_path: Path) -> None:
    body = b"a small source video" * 100
    stored = await store.put_file(KEY, write(tmp_path / "a.mp4", body), "video/mp4", METADATA)
    expected = StoredObject(KEY, len(body), hashlib.md5(body).hexdigest(), "video/mp4", METADATA)
    head = await store.head(KEY)
    assert head is not None and head.last_modified is not None
    assert replace(stored, last_modified=None) == expected
    assert replace(head, last_modified=None) == expected


async def test_put_file_of_an_empty_file(store: ObjectStore, tmp_path: Path) -> None:
    key = "users/alice/database.sqlite"
    stored = await store.put_file(key, write(tmp_path / "empty", b""), "application/x-sqlite3", {})
    assert (stored.size, stored.etag) == (0, hashlib.md5(b"").hexdigest())
    assert timeless(await store.head(key)) == timeless(stored)


async def test_a_second_put_replaces_the_object(store: ObjectStore, tmp_path: Path) -> None:
    await store.put_file(KEY, write(tmp_path / "one", b"first"), "video/mp4", {"v": "1"})
    second = await store.put_file(KEY, write(tmp_path / "two", b"second!"), "video/webm", {})
    expected = StoredObject(KEY, 7, hashlib.md5(b"second!").hexdigest(), "video/webm", {})
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
