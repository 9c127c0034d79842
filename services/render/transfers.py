"""Render's way to and from the bucket: always through storage (presigned GET in, push RPC out)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from libs.errors import PermanentError
from libs.messaging.events import PushRequest
from libs.storage.fetch import ObjectFetcher, ObjectMissingError
from libs.storage.objects import StoredObject
from libs.storage.storage_client import StorageClient
from services.render.workspace import Workspace


@dataclass(frozen=True)
class Transfers:
    fetcher: ObjectFetcher  # a short presign deadline: presigning is instant when storage is there
    pusher: StorageClient  # a long one: a push replies once uploaded, verified and announced
    workspace: Workspace

    async def download(self, key: str, dest: Path) -> None:
        """Stream the object to `dest`; never held in memory. Other failures stay transient."""
        try:
            await self.fetcher.download(key, dest)
        except ObjectMissingError as exc:
            raise PermanentError("the source video is no longer in the bucket") from exc

    async def push(
        self, path: Path, key: str, content_type: str, scene_id: str | None
    ) -> StoredObject:
        """Stored, verified and announced (so tracking records it) once this returns."""
        local_path = self.workspace.relative(path)
        request = PushRequest(
            local_path=local_path, key=key, content_type=content_type, scene_id=scene_id
        )
        return await self.pusher.push(request)
