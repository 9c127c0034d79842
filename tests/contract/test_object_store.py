"""One contract for the object store: MemoryObjectStore and S3ObjectStore (nanio) alike."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientSession

from libs.errors import ConflictError, PermanentError
from libs.settings import Settings
from libs.storage.objects import StoredObject
from libs.storage.objectstore import (
    MemoryObjectStore,
    ObjectStore,
    PartDone,
    PutCondition,
    multipart_etag,
)
from libs.storage.s3 import S3ObjectStore, s3_client

MiB = 1024 * 1024
KEY = "users/alice/projects/p1/videos/v1/source.mp4"
METADATA = {"user-id": "alice", "title": "goal"}


@pytest.fixture(params=["memory", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    if request.param == "memory":
        return MemoryObjectStore("memory-bucket")
    real: ObjectStore = request.getfixturevalue("bucket")
    return real


@pytest_asyncio.fixture(params=["memory", "moto"])
async def conditional_store(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[ObjectStore]:
    """Stores that check conditional writes as R2 does (nanio ignores the conditions)."""
    if request.param == "memory":
        yield MemoryObjectStore("memory-bucket")
        return
    moto = request.getfixturevalue("moto_url")
    moto_settings = settings.model_copy(update={"r2_endpoint_url": moto, "r2_region": "us-east-1"})
    async with s3_client(moto_settings) as client:
        await client.create_bucket(Bucket=settings.r2_bucket_name)
        yield S3ObjectStore(client, settings.r2_bucket_name)


def is_real(store: ObjectStore) -> bool:
    return isinstance(store, S3ObjectStore)


async def send(store: ObjectStore, url: str, body: bytes, headers: dict[str, str]) -> str:
    """What a client holding the bytes does with a presigned URL; the ETag the store answers.
    A refusal raises: ConflictError for 412, PermanentError for any other 4xx."""
    if isinstance(store, MemoryObjectStore):
        return store.send(url, body)
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    async with (
        ClientSession() as http,
        http.put(url, data=io.BytesIO(body), headers={**headers, "Content-MD5": md5}) as response,
    ):
        if response.status == 412:
            raise ConflictError(await response.text())
        assert response.status < 500, await response.text()
        if response.status >= 400:
            raise PermanentError(await response.text())
        return response.headers["ETag"].strip('"')


async def put_object(
    store: ObjectStore,
    key: str,
    body: bytes,
    content_type: str = "application/octet-stream",
    metadata: dict[str, str] | None = None,
    condition: PutCondition | None = None,
) -> str:
    presigned = await store.presign_put(key, content_type, metadata or {}, condition, 300)
    return await send(store, presigned.url, body, presigned.headers)


def timeless(stored: StoredObject | None) -> StoredObject | None:
    """The store sets last_modified itself; compare everything else."""
    return stored.model_copy(update={"last_modified": None}) if stored else None


async def test_a_presigned_put_stores_what_head_then_returns(store: ObjectStore) -> None:
    body = b"a small source video" * 100
    etag = await put_object(store, KEY, body, "video/mp4", METADATA)
    expected = StoredObject(
        key=KEY, size=len(body), etag=etag, content_type="video/mp4", metadata=METADATA
    )
    head = await store.head(KEY)
    assert etag == hashlib.md5(body).hexdigest()
    assert head is not None and head.last_modified is not None
    assert timeless(head) == expected


async def test_a_presigned_put_of_nothing_stores_an_empty_object(store: ObjectStore) -> None:
    key = "users/alice/database.sqlite"
    etag = await put_object(store, key, b"", "application/x-sqlite3")
    head = await store.head(key)
    assert head is not None and (head.size, head.etag) == (0, hashlib.md5(b"").hexdigest())
    assert etag == head.etag


async def test_a_second_put_replaces_the_object(store: ObjectStore) -> None:
    await put_object(store, KEY, b"first", "video/mp4", {"v": "1"})
    etag = await put_object(store, KEY, b"second!", "video/webm")
    expected = StoredObject(key=KEY, size=7, etag=etag, content_type="video/webm")
    assert timeless(await store.head(KEY)) == expected


async def test_head_of_a_missing_key_is_none(store: ObjectStore) -> None:
    assert await store.head("users/nobody/database.sqlite") is None


async def test_a_multipart_upload_is_stored_whole_with_the_multipart_etag(
    store: ObjectStore,
) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(MiB)]
    upload_id = await store.begin_multipart(KEY, "video/x-matroska", METADATA)
    assert [u.upload_id for u in await store.open_uploads()] == [upload_id]
    etags = []
    for number, body in enumerate(parts, 1):
        url = await store.presign_part(KEY, upload_id, number, 300)
        etags.append(await send(store, url, body, {}))
    assert etags == [hashlib.md5(body).hexdigest() for body in parts]
    await store.complete_multipart(KEY, upload_id, [PartDone(n, e) for n, e in enumerate(etags, 1)])
    head = await store.head(KEY)
    assert head is not None
    assert (head.size, head.etag) == (11 * MiB, multipart_etag(etags))
    assert (head.content_type, head.metadata) == ("video/x-matroska", METADATA)
    assert await store.open_uploads() == []


async def test_an_aborted_multipart_upload_leaves_nothing(store: ObjectStore) -> None:
    upload_id = await store.begin_multipart(KEY, "video/mp4", {})
    url = await store.presign_part(KEY, upload_id, 1, 300)
    await send(store, url, b"part of something", {})
    await store.abort_multipart(KEY, upload_id)
    await store.abort_multipart(KEY, upload_id)  # already gone: no error
    assert await store.open_uploads() == []
    assert await store.head(KEY) is None


async def test_completing_with_a_part_never_sent_is_permanent(store: ObjectStore) -> None:
    upload_id = await store.begin_multipart(KEY, "video/mp4", {})
    with pytest.raises(PermanentError):
        await store.complete_multipart(KEY, upload_id, [PartDone(1, hashlib.md5(b"x").hexdigest())])
    assert await store.head(KEY) is None
    await store.abort_multipart(KEY, upload_id)


async def test_a_conditional_put_over_another_version_is_refused(
    conditional_store: ObjectStore,
) -> None:
    store = conditional_store
    first = await put_object(store, KEY, b"first", condition=PutCondition(if_none_match=True))
    with pytest.raises(ConflictError):
        await put_object(store, KEY, b"again", condition=PutCondition(if_none_match=True))
    with pytest.raises(ConflictError):
        await put_object(store, KEY, b"stale", condition=PutCondition(if_match="0" * 32))
    second = await put_object(store, KEY, b"second", condition=PutCondition(if_match=first))
    head = await store.head(KEY)
    assert head is not None and head.etag == second


async def test_presign_get_gives_a_url_that_serves_the_bytes(
    store: ObjectStore, http: ClientSession
) -> None:
    body = b"presigned bytes " * 1000
    await put_object(store, KEY, body, "video/mp4")
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
    await put_object(store, key, body)
    stored = await store.head(key)
    assert stored is not None
    return stored


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
