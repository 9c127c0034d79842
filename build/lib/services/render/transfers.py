"""Render's way to and from the bucket: presigned by storage, the bytes straight from render's
own scratch (a presigned GET in; a presigned PUT or multipart upload out)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from libs.errors import PermanentError
from libs.messaging.events import NewObject
from libs.storage.fetch import ObjectFetcher, ObjectMissingError
from libs.storage.objects import StoredObject
from libs.storage.transfer import Uploader


@dataclass(frozen=True)
class Transfers:
    fetcher: ObjectFetcher
    uploader: Uploader

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
        new = NewObject(key=key, content_type=content_type, scene_id=scene_id)
        return await self.uploader.put_file(path, new)
