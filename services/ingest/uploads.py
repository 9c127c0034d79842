"""Receiving an upload: the body streams to a work file in chunks, never into memory."""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.hdrs import CONTENT_ENCODING, CONTENT_TRANSFER_ENCODING
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam

from libs.errors import ProblemError
from services.ingest.service import ReceivedUpload

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


def too_large(limit: int) -> ProblemError:
    return ProblemError(
        413, "Upload too large", f"The upload exceeds the limit of {limit} bytes.", limit=limit
    )


def strict_part_headers() -> None:
    """Turn aiohttp's warnings about a part's Content-Disposition into errors (process-wide)."""
    for category in (BadContentDispositionHeader, BadContentDispositionParam):
        warnings.filterwarnings("error", category=category)


async def receive(request: web.Request, dest: Path, limit: int) -> ReceivedUpload:
    """Write the video to `dest` (raw body or the multipart `file` field)."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    kind = request.content_type
    if kind == "multipart/form-data":
        return await _receive_multipart(request, dest, limit)
    if not kind.startswith("video/") and kind != "application/octet-stream":
        detail = f"Send the video as one of {', '.join(VIDEO_TYPES)}."
        raise ProblemError(415, "Unsupported Media Type", detail, accepted=list(VIDEO_TYPES))
    size = await _write(request.content.iter_chunked(CHUNK_BYTES), dest, limit)
    return ReceivedUpload(dest, size, request.query.get("filename"))


async def _receive_multipart(request: web.Request, dest: Path, limit: int) -> ReceivedUpload:
    try:
        return await _read_form(request, dest, limit)
    except LineTooLong as exc:
        detail = f"A part header line exceeds {MAX_PART_HEADER_BYTES} bytes."
        raise ProblemError(
            413, "Multipart header too large", detail, limit=MAX_PART_HEADER_BYTES
        ) from exc
    except MALFORMED as exc:
        detail = f"The multipart body cannot be parsed ({type(exc).__name__})."
        raise ProblemError(400, "Malformed multipart body", detail) from exc


async def _read_form(request: web.Request, dest: Path, limit: int) -> ReceivedUpload:
    reader = MultipartReader(
        request.headers,
        request.content,
        max_field_size=MAX_PART_HEADER_BYTES,
        max_headers=MAX_PART_HEADERS,
    )
    fields: dict[str, Any] = {}
    async for each in reader:
        part = _form_field(each, fields)
        if part.name == "highlights":
            fields["highlights"] = await _read_small(part, MAX_HIGHLIGHTS_BYTES)
        else:
            fields["filename"] = part.filename
            fields["size"] = await _write(_chunks(part), dest, limit)
    if "size" not in fields:
        raise ProblemError(422, "Missing file", "The multipart body has no 'file' field.")
    return ReceivedUpload(dest, **fields)


def _form_field(part: object, seen: dict[str, Any]) -> BodyPartReader:
    """`file` once and `highlights` at most once, plain bytes (no transfer or content coding)."""
    if not isinstance(part, BodyPartReader) or part.name not in ("file", "highlights"):
        raise ProblemError(422, "Unexpected form field", "Only 'file' and 'highlights'.")
    if ("size" if part.name == "file" else part.name) in seen:
        raise ProblemError(422, "Unexpected form field", f"Send at most one '{part.name}'.")
    codings = (
        part.headers.get(CONTENT_TRANSFER_ENCODING, ""),
        part.headers.get(CONTENT_ENCODING, ""),
    )
    if any(coding.strip().lower() not in PLAIN_ENCODINGS for coding in codings):
        detail = "Parts are sent as they are: no Content-Transfer-Encoding or Content-Encoding."
        raise ProblemError(415, "Unsupported part encoding", detail)
    return part


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


async def _write(chunks: AsyncIterator[bytes], dest: Path, limit: int) -> int:
    size = 0
    handle: BinaryIO = await asyncio.to_thread(dest.open, "xb")
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            await asyncio.to_thread(handle.write, chunk)
        await asyncio.to_thread(_flush, handle)
    finally:
        await asyncio.to_thread(handle.close)
    return size


def _flush(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def upload_dir(work_dir: Path) -> Path:
    path = work_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def part_path(work_dir: Path, video_id: str) -> Path:
    return upload_dir(work_dir) / f"{video_id}.part"


def finalize(part: Path, extension: str) -> Path:
    """The received file, renamed for its push; storage finds it relative to the work dir."""
    final = part.with_suffix(f".{extension}")
    part.rename(final)
    return final


def discard_work_files(work_dir: Path, video_id: str) -> None:
    for path in (work_dir / "uploads").glob(f"{video_id}.*"):
        path.unlink(missing_ok=True)
