"""Writing objects without R2 credentials: storage presigns, whoever holds the bytes sends them
straight to the bucket, and storage verifies and announces the result.

A body that fits in one part goes up as one presigned PUT; anything larger as a multipart
upload of equal parts (R2 requires every part but the last to be the same size), a few parts in
flight, so memory stays at about part size x (parts in flight + 1) whatever the object's size.
Every part and PUT carries Content-MD5 and the store's ETag is checked against it. A transfer
that fails or is cancelled (the client went away) aborts its multipart upload on the spot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from aiohttp import ClientError, ClientSession, ClientTimeout

from libs.errors import ConflictError, PermanentError, TransientError
from libs.messaging.events import NewObject, PutUrlRequest, UploadedPart
from libs.observability.metrics import MULTIPART_IN_FLIGHT, timed_transfer
from libs.storage.objects import StoredObject
from libs.storage.storage_client import StorageClient

log = structlog.get_logger(__name__)
URLS_AHEAD = 16  # part URLs presigned per request to storage
SEND_TRIES = 3
HTTP_TIMEOUT = ClientTimeout(total=None, sock_connect=10, sock_read=120)
SEND_SLICE = 256 * 1024
Buffer = bytes | memoryview


@dataclass(frozen=True)
class Tuning:
    part_bytes: int = 5 * 1024 * 1024
    parts_in_flight: int = 2


@dataclass(frozen=True)
class Condition:
    """Write only over this version (an ETag) or only where nothing is yet."""

    if_match: str | None = None
    if_none_match: bool = False


def md5_of(data: Buffer) -> bytes:
    return hashlib.md5(data).digest()


async def file_chunks(path: Path, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    """A file's bytes, read off the event loop."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, size):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


Part = bytes | memoryview


class PartBuffers:
    """Part-sized buffers made once per upload and reused: one filling while the others are
    in flight, so an upload allocates `count` buffers whatever its length."""

    def __init__(self, part_bytes: int, count: int) -> None:
        self.part_bytes = part_bytes
        self._unmade = count
        self._free: asyncio.Queue[bytearray] = asyncio.Queue()

    async def take(self) -> bytearray:
        if self._free.empty() and self._unmade:
            self._unmade -= 1
            return bytearray(self.part_bytes)
        return await self._free.get()

    def give(self, part: memoryview) -> None:
        """A part sent (or dropped): its buffer can be filled again."""
        buffer = part.obj
        part.release()
        assert isinstance(buffer, bytearray)
        self._free.put_nowait(buffer)


async def parts_of(chunks: AsyncIterator[bytes], buffers: PartBuffers) -> AsyncIterator[memoryview]:
    """Chunks copied into parts of exactly `part_bytes` (the last may be shorter); each part
    is a view of a pooled buffer, to be given back once sent."""
    buffer, filled = await buffers.take(), 0
    async for chunk in chunks:
        rest = memoryview(chunk)
        while rest:
            taken = min(len(rest), len(buffer) - filled)
            buffer[filled : filled + taken] = rest[:taken]
            filled, rest = filled + taken, rest[taken:]
            if filled == len(buffer):
                yield memoryview(buffer)
                buffer, filled = await buffers.take(), 0
    yield memoryview(buffer)[:filled]


async def _body(data: Buffer) -> AsyncIterator[memoryview]:
    """A part as slices: the socket's write buffer holds one slice, never a copy of the part."""
    view = memoryview(data)
    for start in range(0, len(view), SEND_SLICE):
        yield view[start : start + SEND_SLICE]


class Uploader:
    def __init__(self, storage: StorageClient, tuning: Tuning) -> None:
        self.storage = storage
        self.tuning = tuning
        self._session: ClientSession | None = None

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Uploader]:
        async with ClientSession(timeout=HTTP_TIMEOUT) as session:
            self._session = session
            try:
                yield self
            finally:
                self._session = None

    async def context(self, _app: object) -> AsyncIterator[None]:
        """`open` as an aiohttp cleanup_ctx: the session lives as long as the app."""
        async with self.open():
            yield

    @property
    def http(self) -> ClientSession:
        if self._session is None:
            raise TransientError("the uploader is not open")
        return self._session

    async def put_file(
        self, path: Path, new: NewObject, condition: Condition | None = None
    ) -> StoredObject:
        return await self.put_stream(file_chunks(path), new, condition)

    async def put_bytes(
        self, data: bytes, new: NewObject, condition: Condition | None = None
    ) -> StoredObject:
        """One presigned PUT, then storage verifies (size, MD5) and announces."""
        condition = condition or Condition()
        request = PutUrlRequest(
            object=new, if_match=condition.if_match, if_none_match=condition.if_none_match
        )
        presigned = await self.storage.put_url(request)
        digest = await asyncio.to_thread(md5_of, data)
        await self.send(presigned.url or "", data, digest, presigned.headers)
        return await self.storage.commit(new.key, len(data), digest.hex())

    async def put_stream(
        self, chunks: AsyncIterator[bytes], new: NewObject, condition: Condition | None = None
    ) -> StoredObject:
        """A body of any length: one PUT if it fits in a part, else a multipart upload."""
        tuning = self.tuning
        buffers = PartBuffers(tuning.part_bytes, tuning.parts_in_flight + 1)
        parts = parts_of(chunks, buffers)
        first = await anext(parts)
        if len(first) < tuning.part_bytes or condition is not None:
            return await self.put_bytes(await _joined(first, parts, buffers), new, condition)
        upload = await MultipartUpload.begin(self, new, buffers)
        try:
            return await upload.send_all(first, parts)
        except BaseException:
            await upload.abort()
            raise

    async def send(self, url: str, data: Buffer, digest: bytes, headers: Mapping[str, str]) -> str:
        """PUT `data` to a presigned URL (tried a few times); return the ETag, checked."""
        for attempt in range(1, SEND_TRIES + 1):
            try:
                with timed_transfer("upload") as moved:
                    etag = await self._send_once(url, data, digest, headers)
                    moved.bytes = len(data)
                return etag
            except TransientError as exc:
                if attempt == SEND_TRIES:
                    raise
                log.warning("transfer_retry", attempt=attempt, error=str(exc))
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def _send_once(
        self, url: str, data: Buffer, digest: bytes, headers: Mapping[str, str]
    ) -> str:
        md5 = base64.b64encode(digest).decode()
        sent = {**headers, "Content-MD5": md5, "Content-Length": str(len(data))}
        try:
            async with self.http.put(url, data=_body(data), headers=sent) as response:
                await response.read()
                _check(response.status, url)
                etag = response.headers.get("ETag", "").strip('"')
        except (ClientError, TimeoutError) as exc:
            raise TransientError(f"sending to the bucket failed: {exc!r}") from exc
        if etag != digest.hex():
            raise TransientError("the bucket's ETag does not match the MD5 sent")
        return etag


def _check(status: int, url: str) -> None:
    if status == 412:
        raise ConflictError("the object changed since it was read")
    if status in (408, 429) or status >= 500:
        raise TransientError(f"the bucket answered HTTP {status}")
    if status >= 400:
        raise PermanentError(f"the bucket refused the transfer: HTTP {status}")


@dataclass
class MultipartUpload:
    """One multipart upload in progress: its parts go up a few at a time, in order of number."""

    uploader: Uploader
    new: NewObject
    upload_id: str
    done: list[UploadedPart] = field(default_factory=list)
    size: int = 0
    buffers: PartBuffers | None = None  # pooled part buffers to give back (a streamed body)
    _urls: dict[int, str] = field(default_factory=dict)

    @classmethod
    async def begin(
        cls, uploader: Uploader, new: NewObject, buffers: PartBuffers | None = None
    ) -> MultipartUpload:
        upload_id = await uploader.storage.begin_upload(new)
        return cls(uploader, new, upload_id, buffers=buffers)

    async def send_all(self, first: memoryview, rest: AsyncIterator[memoryview]) -> StoredObject:
        """Every part, a few at a time, then complete. The first failure stops the rest."""
        await self.send_parts(1, _chained(first, rest))
        return await self.complete()

    async def send_parts(self, number: int, parts: AsyncIterator[Part]) -> None:
        """Parts numbered from `number` on, a few in flight; the first failure stops the rest."""
        slots = asyncio.Semaphore(self.uploader.tuning.parts_in_flight)
        try:
            async with asyncio.TaskGroup() as group:
                async for part in parts:
                    if not part:
                        break  # the body ended on a part boundary
                    await slots.acquire()
                    group.create_task(self._send_part(number, part, slots))
                    number += 1
        except BaseExceptionGroup as failures:
            raise failures.exceptions[0] from None

    async def _send_part(self, number: int, data: Part, slots: asyncio.Semaphore) -> None:
        try:
            with MULTIPART_IN_FLIGHT.track_inprogress():
                self.done.append(await self.send_part(number, data))
            self.size += len(data)
        finally:
            if self.buffers is not None and isinstance(data, memoryview):
                self.buffers.give(data)
            slots.release()

    async def send_part(self, number: int, data: Part) -> UploadedPart:
        url = await self._url(number)
        digest = await asyncio.to_thread(md5_of, data)
        etag = await self.uploader.send(url, data, digest, {})
        return UploadedPart(number=number, etag=etag)

    async def _url(self, number: int) -> str:
        if number not in self._urls:
            storage = self.uploader.storage
            urls = await storage.part_urls(self.new.key, self.upload_id, number, URLS_AHEAD)
            self._urls.update(zip(range(number, number + len(urls)), urls, strict=True))
        return self._urls.pop(number)

    async def complete(self) -> StoredObject:
        parts = sorted(self.done, key=lambda part: part.number)
        storage = self.uploader.storage
        return await storage.complete_upload(self.new.key, self.upload_id, parts, self.size)

    async def abort(self) -> None:
        """Best effort, and never cut short by the cancel that caused it."""
        storage = self.uploader.storage
        with contextlib.suppress(Exception):
            await asyncio.shield(storage.abort_upload(self.new.key, self.upload_id))


async def _joined(
    first: memoryview, rest: AsyncIterator[memoryview], buffers: PartBuffers
) -> bytes:
    """A conditional write or a small body is one PUT: the parts copied out of the pool."""
    whole = bytearray(first)
    buffers.give(first)
    async for part in rest:
        whole += part
        buffers.give(part)
    return bytes(whole)


async def _chained(first: memoryview, rest: AsyncIterator[memoryview]) -> AsyncIterator[memoryview]:
    yield first
    async for part in rest:
        yield part
