"""Receiving an upload: the body streams to a work file in chunks, never into memory."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import BodyPartReader, web

from libs.errors import ProblemError
from services.ingest.service import ReceivedUpload

CHUNK_BYTES = 1024 * 1024
MAX_HIGHLIGHTS_BYTES = 256 * 1024


def too_large(limit: int) -> ProblemError:
    return ProblemError(
        413, "Upload too large", f"The upload exceeds the limit of {limit} bytes.", limit=limit
    )


async def receive(request: web.Request, dest: Path, limit: int) -> ReceivedUpload:
    """Write the video to `dest` (raw body or the multipart `file` field)."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    if request.content_type == "multipart/form-data":
        return await _receive_multipart(request, dest, limit)
    size = await _write(request.content.iter_chunked(CHUNK_BYTES), dest, limit)
    return ReceivedUpload(dest, size, request.query.get("filename"))


async def _receive_multipart(request: web.Request, dest: Path, limit: int) -> ReceivedUpload:
    fields: dict[str, Any] = {}
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader) or part.name not in ("file", "highlights"):
            raise ProblemError(422, "Unexpected form field", "Only 'file' and 'highlights'.")
        if part.name == "highlights":
            fields["highlights"] = await _read_small(part, MAX_HIGHLIGHTS_BYTES)
            continue
        if "size" in fields:
            raise ProblemError(422, "Unexpected form field", "Send exactly one 'file'.")
        fields["filename"] = part.filename
        fields["size"] = await _write(_chunks(part), dest, limit)
    if "size" not in fields:
        raise ProblemError(422, "Missing file", "The multipart body has no 'file' field.")
    return ReceivedUpload(dest, **fields)


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
