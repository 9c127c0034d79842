"""Reading objects without R2 credentials: a presigned URL from storage, then plain HTTP GET."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import ClientError, ClientResponse, ClientSession, ClientTimeout

from libs.errors import TransientError
from libs.observability.metrics import timed_transfer
from libs.storage.storage_client import StorageClient

CHUNK_BYTES = 1024 * 1024


class ObjectMissingError(TransientError):
    """The bucket answered 404. Transient here (a reader may race a writer); a caller that
    knows the object will not come back makes it permanent."""


class ObjectFetcher:
    def __init__(self, storage: StorageClient) -> None:
        self.storage = storage
        self._session: ClientSession | None = None

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[None]:
        async with ClientSession(timeout=ClientTimeout(total=None, sock_read=60)) as session:
            self._session = session
            try:
                yield
            finally:
                self._session = None

    async def context(self, _app: object) -> AsyncIterator[None]:
        """`open` as an aiohttp cleanup_ctx: the session lives as long as the app."""
        async with self.open():
            yield

    async def read(self, key: str) -> bytes:
        with timed_transfer("download") as moved:
            async with self._get(key) as response:
                body: bytes = await response.read()
            moved.bytes = len(body)
        return body

    async def download(self, key: str, dest: Path) -> None:
        """Stream an object to `dest` (its directory must exist)."""
        with timed_transfer("download") as moved:
            async with self._get(key) as response:
                out = await asyncio.to_thread(dest.open, "wb")
                try:
                    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                        await asyncio.to_thread(out.write, chunk)
                        moved.bytes += len(chunk)
                finally:
                    await asyncio.to_thread(out.close)

    @contextlib.asynccontextmanager
    async def _get(self, key: str) -> AsyncIterator[ClientResponse]:
        url = await self.storage.presign(key)
        if url is None or self._session is None:
            raise TransientError(f"{key} cannot be read right now")
        try:
            async with self._session.get(url) as response:
                if response.status == 404:
                    raise ObjectMissingError(f"{key} is not in the bucket")
                response.raise_for_status()
                yield response
        except (ClientError, TimeoutError) as exc:
            raise TransientError(f"reading {key} failed: {exc}") from exc
