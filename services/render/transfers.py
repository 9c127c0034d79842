"""Render's way to and from the bucket: always through storage (presigned GET in, push RPC out)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import aiohttp

from libs.errors import PermanentError, TransientError
from libs.messaging.events import PushRequest
from libs.observability.metrics import timed_transfer
from libs.storage.objects import StoredObject
from libs.storage.storage_client import StorageClient
from services.render.workspace import Workspace

CHUNK_BYTES = 1024 * 1024
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)


@dataclass(frozen=True)
class Transfers:
    presigner: StorageClient  # a short deadline: presigning is instant when storage is there
    pusher: StorageClient  # a long one: a push replies once uploaded, verified and announced
    workspace: Workspace

    async def download(self, key: str, dest: Path) -> None:
        """Stream the object to `dest`; never held in memory."""
        url = await self.presigner.presign(key)
        if url is None:
            raise TransientError("storage could not presign the source")
        try:
            async with (
                aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
                http.get(url) as response,
            ):
                _check_status(response.status)
                with timed_transfer("download") as moved:
                    await _save(response.content.iter_chunked(CHUNK_BYTES), dest)
                    moved.bytes = response.content.total_bytes
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"downloading the source failed: {exc!r}") from exc

    async def push(
        self, path: Path, key: str, content_type: str, scene_id: str | None
    ) -> StoredObject:
        """Stored, verified and announced (so tracking records it) once this returns."""
        local_path = self.workspace.relative(path)
        request = PushRequest(
            local_path=local_path, key=key, content_type=content_type, scene_id=scene_id
        )
        return await self.pusher.push(request)


def _check_status(status: int) -> None:
    if status == 404:
        raise PermanentError("the source video is no longer in the bucket")
    if status >= 400:
        raise TransientError(f"downloading the source answered HTTP {status}")


async def _save(chunks: aiohttp.streams.AsyncStreamIterator[bytes], dest: Path) -> None:
    handle: BinaryIO = await asyncio.to_thread(dest.open, "wb")
    try:
        async for chunk in chunks:
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)
