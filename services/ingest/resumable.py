"""Resumable uploads' rules (tus 1.0): create, append a chunk at the right offset, finish,
terminate, and sweep the expired.

Nothing lives on one replica's disk. Whole parts go into a multipart upload in the bucket as they
arrive (the fixed part size of the one-request upload); the bytes past the last whole part (the
tail) are written as one small object of their own, `.../videos/{id}/upload.{n}.partial`, before
the chunk is acknowledged. The state (multipart id, parts, tail, offset) is in a KV bucket, each
write compare-and-set: a PATCH first takes a lease on the upload (a second PATCH meanwhile is
refused as locked), and commits the new offset only once its bytes are durable. A replica that
dies mid-PATCH leaves the last committed offset, and its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from pydantic import BaseModel

from libs.errors import (
    CliptrailError,
    ConflictError,
    InvalidError,
    NotFoundError,
    RefusedError,
    StateError,
    TooLargeError,
)
from libs.media.highlights import parse_highlights
from libs.media.probe import CONTENT_TYPES
from libs.media.sniff import sniff_extension
from libs.messaging.events import NewObject, ObjectRef, UploadedPart
from libs.storage.fetch import ObjectFetcher
from libs.storage.keys import new_id, partial_key, source_key
from libs.storage.objects import StoredObject
from libs.storage.transfer import MultipartUpload
from services.ingest.service import Arrived, IngestService, check_filename, extension_of

log = structlog.get_logger(__name__)
CHECKSUMS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


class LockedError(RefusedError):
    default_title = "Locked"


class ChecksumMismatchError(RefusedError):
    default_title = "Checksum Mismatch"


class UploadState(BaseModel):
    upload_id: str
    user_id: str
    project_id: str
    video_id: str
    length: int
    offset: int = 0
    filename: str | None = None
    highlights: str | None = None
    expires_at: float
    key: str | None = None  # the source key, once the first part has shown its container
    multipart_id: str | None = None
    parts: list[UploadedPart] = []
    tail_key: str | None = None  # the bytes past the last whole part
    staged: list[str] = []  # every tail this upload may have written (deleted at the end)
    generation: int = 0
    leased_until: float = 0.0
    done_video_id: str | None = None


@dataclass(frozen=True)
class Versioned:
    state: UploadState
    revision: int


class UploadStates(Protocol):
    async def get(self, upload_id: str) -> Versioned | None: ...

    async def create(self, state: UploadState) -> int: ...

    async def update(self, state: UploadState, revision: int) -> int: ...

    async def delete(self, upload_id: str, revision: int) -> None: ...

    async def ids(self) -> list[str]: ...


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes


@dataclass
class Timing:
    expiry_seconds: float
    lease_seconds: float
    clock: Callable[[], float] = time.time


@dataclass
class Lease:
    """A PATCH's hold on its upload, renewed while the chunk streams in."""

    versioned: Versioned

    @property
    def state(self) -> UploadState:
        return self.versioned.state


@dataclass
class ResumableUploads:
    service: IngestService
    states: UploadStates
    fetcher: ObjectFetcher
    timing: Timing
    max_bytes: int

    @property
    def part_bytes(self) -> int:
        return self.service.uploader.tuning.part_bytes

    async def create(
        self, user_id: str, project_id: str, length: int, metadata: dict[str, bytes]
    ) -> UploadState:
        await self.service.project(user_id, project_id)
        if length > self.max_bytes:
            limit = self.max_bytes
            raise TooLargeError(
                f"The upload exceeds {limit} bytes.", "Upload too large", limit=limit
            )
        await self.service.check_quota(user_id, length)
        state = UploadState(
            upload_id=new_id(),
            user_id=user_id,
            project_id=project_id,
            video_id=new_id(),
            length=length,
            filename=_filename(metadata),
            highlights=_highlights(metadata),
            expires_at=self.timing.clock() + self.timing.expiry_seconds,
        )
        await self.states.create(state)
        return state

    async def current(self, user_id: str, project_id: str, upload_id: str) -> UploadState:
        return (await self._owned(user_id, project_id, upload_id)).state

    async def _owned(self, user_id: str, project_id: str, upload_id: str) -> Versioned:
        found = await self.states.get(upload_id)
        owned = found and (found.state.user_id, found.state.project_id) == (user_id, project_id)
        if not found or not owned or found.state.expires_at < self.timing.clock():
            raise NotFoundError("No such upload.", "Not Found")
        return found

    async def append(
        self,
        ids: tuple[str, str, str],
        offset: int,
        chunks: AsyncIterator[bytes],
        checksum: Checksum | None,
    ) -> UploadState:
        """The chunk at `offset`, durable before this returns; the finished video if it was
        the last."""
        lease = await self._take_lease(await self._owned(*ids), offset)
        try:
            return await self._append(lease, chunks, checksum)
        except BaseException:  # nothing committed: the offset stays, the lease goes
            await asyncio.shield(self._release(lease))
            raise

    async def _take_lease(self, found: Versioned, offset: int) -> Lease:
        state, now = found.state, self.timing.clock()
        if state.leased_until > now:
            raise LockedError("Another request is writing to this upload.")
        if offset != state.offset:
            detail = f"The upload is at offset {state.offset}, not {offset}."
            raise StateError(detail, "Offset mismatch", offset=state.offset)
        generation = state.generation + 1
        tail = partial_key(state.user_id, state.project_id, state.video_id, generation)
        leased = state.model_copy(
            update={
                "generation": generation,
                "leased_until": now + self.timing.lease_seconds,
                "staged": [*state.staged, tail],
            }
        )
        return Lease(Versioned(leased, await self._cas(leased, found.revision)))

    async def _cas(self, state: UploadState, revision: int) -> int:
        try:
            return await self.states.update(state, revision)
        except ConflictError as exc:
            raise LockedError("Another request is writing to this upload.") from exc

    async def _release(self, lease: Lease) -> None:
        with contextlib.suppress(CliptrailError):
            released = lease.state.model_copy(update={"leased_until": 0.0})
            await self.states.update(released, lease.versioned.revision)

    async def _append(
        self, lease: Lease, chunks: AsyncIterator[bytes], checksum: Checksum | None
    ) -> UploadState:
        state = lease.state
        tail = await self.fetcher.read(state.tail_key) if state.tail_key else b""
        body = _Body(chunks, state.length - state.offset, checksum)
        async with self._renewing(lease):
            upload = await self._send_whole_parts(state, tail, body)
        body.verify()
        rest, offset = body.rest, state.offset + body.received
        if offset == state.length:
            return await self._finish(lease, upload, rest)
        return await self._commit(lease, upload, rest, offset)

    async def _send_whole_parts(
        self, state: UploadState, tail: bytes, body: _Body
    ) -> MultipartUpload | None:
        first = len(state.parts) + 1
        parts = body.whole_parts(tail, self.part_bytes)
        head = await anext(parts, None)
        if head is None:
            return self._multipart(state)
        upload = self._multipart(state)
        if upload is not None:
            await upload.send_parts(first, _chained(head, parts))
            return upload
        upload = await self._begin(state, head)
        try:
            await upload.send_parts(first, _chained(head, parts))
        except BaseException:
            await upload.abort()
            state.key = state.multipart_id = None
            raise
        return upload

    def _multipart(self, state: UploadState) -> MultipartUpload | None:
        if state.multipart_id is None or state.key is None:
            return None
        new = NewObject(key=state.key, content_type=_content_type(state.key))
        size = len(state.parts) * self.part_bytes
        return MultipartUpload(
            self.service.uploader, new, state.multipart_id, list(state.parts), size
        )

    async def _begin(self, state: UploadState, head: bytes) -> MultipartUpload:
        new = self._source(state, head)
        upload = await MultipartUpload.begin(self.service.uploader, new)
        state.key, state.multipart_id = new.key, upload.upload_id
        return upload

    def _source(self, state: UploadState, head: bytes) -> NewObject:
        extension = sniff_extension(head, extension_of(state.filename))
        key = source_key(state.user_id, state.project_id, state.video_id, extension)
        return NewObject(key=key, content_type=CONTENT_TYPES[extension])

    async def _commit(
        self, lease: Lease, upload: MultipartUpload | None, rest: bytes, offset: int
    ) -> UploadState:
        """The tail written under this PATCH's own key, then the new offset committed."""
        state = lease.state
        tail_key = partial_key(state.user_id, state.project_id, state.video_id, state.generation)
        if rest:
            new = NewObject(key=tail_key, content_type="application/octet-stream")
            await self.service.uploader.put_bytes(rest, new)
        stale = [k for k in state.staged if k != tail_key or not rest]
        committed = state.model_copy(
            update={
                "offset": offset,
                "parts": sorted(upload.done, key=lambda p: p.number) if upload else [],
                "tail_key": tail_key if rest else None,
                "staged": [tail_key] if rest else [],
                "leased_until": 0.0,
            }
        )
        await self._cas(committed, lease.versioned.revision)
        await self._delete_objects(stale)
        return committed

    async def _finish(
        self, lease: Lease, upload: MultipartUpload | None, rest: bytes
    ) -> UploadState:
        state = lease.state
        try:
            stored = await self._complete(state, upload, rest)
            used = await self.service.check_quota(state.user_id, state.length)
            video = await self.service.keep(_arrived(state, stored), stored, _raw(state), used)
        except RefusedError:
            await self._discard(lease.versioned)
            raise
        finished = {"offset": state.length, "done_video_id": video.video_id, "staged": []}
        cleared: dict[str, object] = {
            "leased_until": 0.0,
            "tail_key": None,
            "parts": [],
            "multipart_id": None,
        }
        done = state.model_copy(update=finished | cleared)
        await self._cas(done, lease.versioned.revision)
        await self._delete_objects(state.staged)
        return done

    async def _complete(
        self, state: UploadState, upload: MultipartUpload | None, rest: bytes
    ) -> StoredObject:
        if upload is None:
            return await self.service.uploader.put_bytes(rest, self._source(state, rest))
        if rest:
            await upload.send_parts(len(upload.done) + 1, _chained(rest, _nothing()))
        return await upload.complete()

    async def terminate(self, user_id: str, project_id: str, upload_id: str) -> None:
        found = await self._owned(user_id, project_id, upload_id)
        if found.state.leased_until > self.timing.clock():
            raise LockedError("Another request is writing to this upload.")
        await self._discard(found)

    async def _discard(self, found: Versioned) -> None:
        """The multipart upload aborted, every tail deleted, the state gone."""
        state = found.state
        upload = self._multipart(state)
        if upload is not None:
            await upload.abort()
        await self._delete_objects(state.staged)
        with contextlib.suppress(ConflictError):
            await self.states.delete(state.upload_id, found.revision)

    async def sweep_expired(self) -> int:
        """Expired (and not being written) uploads discarded; safe on several replicas."""
        swept, now = 0, self.timing.clock()
        for upload_id in await self.states.ids():
            found = await self.states.get(upload_id)
            if found and found.state.expires_at < now and found.state.leased_until < now:
                await self._discard(found)
                swept += 1
        return swept

    async def _delete_objects(self, keys: list[str]) -> None:
        if keys:
            refs = [ObjectRef(key=key) for key in keys]
            with contextlib.suppress(CliptrailError):  # left for the sweep / project cleanup
                await asyncio.shield(self.service.storage.delete(refs))

    @contextlib.asynccontextmanager
    async def _renewing(self, lease: Lease) -> AsyncIterator[None]:
        task = asyncio.create_task(self._renew(lease))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, CliptrailError):
                await task

    async def _renew(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.timing.lease_seconds / 3)
            until = self.timing.clock() + self.timing.lease_seconds
            renewed = lease.state.model_copy(update={"leased_until": until})
            revision = await self._cas(renewed, lease.versioned.revision)
            lease.versioned = Versioned(renewed, revision)


class _Body:
    """A PATCH body: counted against what the upload still lacks, hashed for its checksum,
    regrouped into whole parts; what is left past the last whole part is `rest`."""

    def __init__(self, chunks: AsyncIterator[bytes], room: int, checksum: Checksum | None):
        self.chunks, self.room, self.checksum = chunks, room, checksum
        self.hash = CHECKSUMS[checksum.algorithm]() if checksum else None
        self.received, self.rest = 0, b""

    async def whole_parts(self, tail: bytes, part_bytes: int) -> AsyncIterator[bytes]:
        buffer = bytearray(tail)
        async for chunk in self.chunks:
            self._count(chunk)
            buffer += chunk
            while len(buffer) >= part_bytes:
                yield bytes(memoryview(buffer)[:part_bytes])
                del buffer[:part_bytes]
        self.rest = bytes(buffer)

    def _count(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.room:
            detail = f"The chunk goes past Upload-Length ({self.room} bytes were left)."
            raise TooLargeError(detail, "Past Upload-Length")
        if self.hash is not None:
            self.hash.update(chunk)

    def verify(self) -> None:
        if self.hash is not None and self.checksum and self.hash.digest() != self.checksum.digest:
            raise ChecksumMismatchError("The chunk's checksum does not match; it was not kept.")


async def _chained(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for part in rest:
        yield part


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


def _content_type(key: str) -> str:
    return CONTENT_TYPES[key.rpartition(".")[2]]


def _arrived(state: UploadState, stored: StoredObject) -> Arrived:
    extension = stored.key.rpartition(".")[2]
    return Arrived(state.user_id, state.project_id, state.video_id, state.filename, extension)


def _raw(state: UploadState) -> Callable[[], Awaitable[bytes | None]]:
    async def highlights() -> bytes | None:
        return state.highlights.encode() if state.highlights is not None else None

    return highlights


def _filename(metadata: dict[str, bytes]) -> str | None:
    raw = metadata.get("filename")
    try:
        return check_filename(raw.decode()) if raw is not None else None
    except UnicodeDecodeError as exc:
        raise InvalidError("The filename must be UTF-8.", "Invalid filename") from exc


def _highlights(metadata: dict[str, bytes]) -> str | None:
    raw = metadata.get("highlights")
    if raw is None:
        return None
    parse_highlights(raw)  # refused now, not after the whole video has arrived
    return raw.decode()
