"""The render's files: one directory per video under render's own scratch dir."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from libs.storage.keys import check_id


class Workspace:
    def __init__(self, scratch_dir: Path) -> None:
        self.root = scratch_dir

    def directory(self, video_id: str) -> Path:
        return self.root / "render" / check_id(video_id, "video_id")

    async def reset(self, video_id: str) -> Path:
        """An empty directory for the video: whatever an interrupted render left goes first."""
        directory = self.directory(video_id)
        await self.remove(video_id)
        await asyncio.to_thread(directory.mkdir, parents=True)
        return directory

    async def remove(self, video_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.directory(video_id), ignore_errors=True)

    async def write(self, path: Path, data: bytes) -> None:
        await asyncio.to_thread(path.write_bytes, data)

    async def discard(self, path: Path) -> None:
        await asyncio.to_thread(path.unlink, missing_ok=True)
