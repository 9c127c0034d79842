"""Receiving an upload's body: the raw body, or the `file` field of a multipart form with an
optional `highlights` field. The video streams through in chunks, never to disk or whole into
memory; the size limit is enforced on `Content-Length` first and on the bytes as they arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, MultipartReader, web

from libs.errors import ProblemError

CHUNK_BYTES = 1024 * 1024
MAX_HIGHLIGHTS_BYTES = 256 * 1024


def too_large(limit: int) -> ProblemError:
    return ProblemError(
        413, "Upload too large", f"The upload exceeds the limit of {limit} bytes.", limit=limit
    )


def check_declared_size(request: web.Request, limit: int) -> None:
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)


@dataclass
class RawBody:
    """The request body is the video; `?filename=` names it."""

    request: web.Request
    limit: int
    size: int = 0

    @property
    def filename(self) -> str | None:
        return self.request.query.get("filename")

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self.request.content.iter_chunked(CHUNK_BYTES):
            self.size = _counted(self.size, chunk, self.limit)
            yield chunk

    async def highlights(self) -> bytes | None:
        return None


@dataclass
class FormBody:
    """A multipart form: `file` (the video, exactly once) and optional `highlights` (JSON),
    in either order. The fields after the file are read once the file has been."""

    form: MultipartReader
    limit: int
    size: int = 0
    filename: str | None = None
    _highlights: bytes | None = None
    _file: BodyPartReader | None = field(default=None, repr=False)

    @classmethod
    async def open(cls, request: web.Request, limit: int) -> FormBody:
        body = cls(await request.multipart(), limit)
        await body._read_until_file()
        return body

    async def _read_until_file(self) -> None:
        while (part := await self.form.next()) is not None:
            if await self._take(part):
                return
        raise ProblemError(422, "Missing file", "The multipart body has no 'file' field.")

    async def _take(self, part: object) -> bool:
        """Keep a highlights field; True when the part is the file."""
        if not isinstance(part, BodyPartReader) or part.name not in ("file", "highlights"):
            raise ProblemError(422, "Unexpected form field", "Only 'file' and 'highlights'.")
        if part.name == "highlights":
            self._highlights = await _read_small(part, MAX_HIGHLIGHTS_BYTES)
            return False
        if self._file is not None:
            raise ProblemError(422, "Unexpected form field", "Send exactly one 'file'.")
        self._file, self.filename = part, part.filename
        return True

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._file is None:
            return
        async for chunk in _chunks(self._file):
            self.size = _counted(self.size, chunk, self.limit)
            yield chunk

    async def highlights(self) -> bytes | None:
        """The highlights field, wherever it was in the form (the rest is read now)."""
        while (part := await self.form.next()) is not None:
            await self._take(part)
        return self._highlights


async def open_body(request: web.Request, limit: int) -> RawBody | FormBody:
    check_declared_size(request, limit)
    if request.content_type == "multipart/form-data":
        return await FormBody.open(request, limit)
    return RawBody(request, limit)


def _counted(size: int, chunk: bytes, limit: int) -> int:
    size += len(chunk)
    if size > limit:
        raise too_large(limit)
    return size


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK_BYTES):
        yield chunk


async def _read_small(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    async for chunk in _chunks(part):
        data += chunk
        if len(data) > limit:
            raise ProblemError(422, "Invalid highlights", f"Highlights exceed {limit} bytes.")
    return bytes(data)
