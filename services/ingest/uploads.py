"""Receiving an upload's body: the raw body, or the `file` field of a multipart form with an
optional `highlights` field. The video streams through in chunks, never to disk or whole into
memory; the size limit is enforced on `Content-Length` first and on the bytes as they arrive."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.hdrs import CONTENT_ENCODING, CONTENT_TRANSFER_ENCODING
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam

from libs.errors import ProblemError

CHUNK_BYTES = 1024 * 1024
MAX_HIGHLIGHTS_BYTES = 256 * 1024
MAX_PART_HEADER_BYTES = 2048  # one part header line: a 255-character filename fits
MAX_PART_HEADERS = 8
VIDEO_TYPES = ("video/*", "application/octet-stream", "multipart/form-data")
PLAIN_ENCODINGS = frozenset({"", "binary", "8bit", "7bit", "identity"})
# What aiohttp's multipart reader raises on a body it cannot parse (its Content-Disposition
# warnings too: they are errors under pytest, and services/ingest/main.py makes them so).
MALFORMED = (
    HttpProcessingError,
    ValueError,
    RuntimeError,
    BadContentDispositionHeader,
    BadContentDispositionParam,
)


def strict_part_headers() -> None:
    """Turn aiohttp's warnings about a part's Content-Disposition into errors (process-wide)."""
    for category in (BadContentDispositionHeader, BadContentDispositionParam):
        warnings.filterwarnings("error", category=category)


@contextlib.contextmanager
def parsing() -> Iterator[None]:
    """A multipart body that cannot be parsed is the client's 4xx, never a 500."""
    try:
        yield
    except LineTooLong as exc:
        detail = f"A part header line exceeds {MAX_PART_HEADER_BYTES} bytes."
        raise ProblemError(
            413, "Multipart header too large", detail, limit=MAX_PART_HEADER_BYTES
        ) from exc
    except MALFORMED as exc:
        detail = f"The multipart body cannot be parsed ({type(exc).__name__})."
        raise ProblemError(400, "Malformed multipart body", detail) from exc


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
        async for chunk in self.request.content.iter_any():  # as received: no joining copy
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
        with parsing():
            form = MultipartReader(
                request.headers,
                request.content,
                max_field_size=MAX_PART_HEADER_BYTES,
                max_headers=MAX_PART_HEADERS,
            )
            body = cls(form, limit)
            await body._read_until_file()
        return body

    async def _read_until_file(self) -> None:
        while (part := await self.form.next()) is not None:
            if await self._take(part):
                return
        raise ProblemError(422, "Missing file", "The multipart body has no 'file' field.")

    async def _take(self, part: object) -> bool:
        """Keep a highlights field; True when the part is the file."""
        checked = self._field(part)
        if checked.name == "highlights":
            self._highlights = await _read_small(checked, MAX_HIGHLIGHTS_BYTES)
            return False
        self._file, self.filename = checked, checked.filename
        return True

    def _field(self, part: object) -> BodyPartReader:
        """`file` once, `highlights` at most once, plain bytes (no transfer or content coding)."""
        if not isinstance(part, BodyPartReader) or part.name not in ("file", "highlights"):
            raise ProblemError(422, "Unexpected form field", "Only 'file' and 'highlights'.")
        seen = self._file is not None if part.name == "file" else self._highlights is not None
        if seen:
            raise ProblemError(422, "Unexpected form field", f"Send at most one '{part.name}'.")
        codings = (
            part.headers.get(CONTENT_TRANSFER_ENCODING, ""),
            part.headers.get(CONTENT_ENCODING, ""),
        )
        if any(coding.strip().lower() not in PLAIN_ENCODINGS for coding in codings):
            detail = "Parts are sent as they are: no Content-Transfer-Encoding or Content-Encoding."
            raise ProblemError(415, "Unsupported part encoding", detail)
        return part

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._file is None:
            return
        with parsing():
            async for chunk in _chunks(self._file):
                self.size = _counted(self.size, chunk, self.limit)
                yield chunk

    async def highlights(self) -> bytes | None:
        """The highlights field, wherever it was in the form (the rest is read now)."""
        with parsing():
            while (part := await self.form.next()) is not None:
                await self._take(part)
        return self._highlights


async def open_body(request: web.Request, limit: int) -> RawBody | FormBody:
    check_declared_size(request, limit)
    kind = request.content_type
    if kind == "multipart/form-data":
        return await FormBody.open(request, limit)
    if not kind.startswith("video/") and kind != "application/octet-stream":
        detail = f"Send the video as one of {', '.join(VIDEO_TYPES)}."
        raise ProblemError(415, "Unsupported Media Type", detail, accepted=list(VIDEO_TYPES))
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
            detail = f"Highlights exceed {limit} bytes."
            raise ProblemError(413, "Highlights too large", detail, limit=limit)
    return bytes(data)
