"""A ready video's clips, answered from the ledger's records and highlights.json, never from a
bucket listing. highlights.json is read through a presigned URL and cached by its ETag.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from libs.errors import TransientError
from libs.storage.fetch import ObjectFetcher
from libs.storage.objects import FileRecord

CACHE_ENTRIES = 256


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ManifestClip(_Lenient):
    style: str
    key: str
    thumbnail_key: str


class ManifestHighlight(_Lenient):
    start: float
    end: float
    title: str
    description: str = ""
    clips: list[ManifestClip] = []


class Manifest(_Lenient):
    highlights: list[ManifestHighlight]


@dataclass(frozen=True)
class ClipEntry:
    r2_key: str
    thumbnail_r2_key: str
    title: str
    description: str
    style: str
    start: float
    end: float
    size_bytes: int

    def view(self, url: str | None, thumbnail_url: str | None) -> dict[str, Any]:
        return {**asdict(self), "url": url, "thumbnail_url": thumbnail_url}


def clip_entries(records: list[FileRecord], manifest: Manifest) -> list[ClipEntry]:
    """Every clip the ledger holds that highlights.json describes, in key order."""
    described = {c.key: (h, c) for h in manifest.highlights for c in h.clips}
    entries = []
    for record in sorted(records, key=lambda r: r.object_key):
        if record.file_type != "clip" or record.object_key not in described:
            continue
        entries.append(_entry(record, *described[record.object_key]))
    return entries


def _entry(record: FileRecord, highlight: ManifestHighlight, clip: ManifestClip) -> ClipEntry:
    return ClipEntry(
        r2_key=record.object_key,
        thumbnail_r2_key=clip.thumbnail_key,
        title=highlight.title,
        description=highlight.description,
        style=clip.style,
        start=highlight.start,
        end=highlight.end,
        size_bytes=record.size_bytes,
    )


class ManifestReader:
    """Reads highlights.json objects; an object version (key + ETag) is fetched once."""

    def __init__(self, fetcher: ObjectFetcher) -> None:
        self._fetcher = fetcher
        self._cache: dict[tuple[str, str], Manifest] = {}

    async def read(self, record: FileRecord) -> Manifest:
        version = (record.object_key, str(record.metadata.get("etag")))
        if version not in self._cache:
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache.pop(next(iter(self._cache)))
            self._cache[version] = await self._fetch(record.object_key)
        return self._cache[version]

    async def _fetch(self, key: str) -> Manifest:
        try:
            return Manifest.model_validate_json(await self._fetcher.read(key))
        except ValidationError as exc:
            raise TransientError(f"highlights.json could not be read: {exc}") from exc

    async def views(self, entries: list[ClipEntry]) -> list[dict[str, Any]]:
        """Each clip with URLs for it and its thumbnail (None while storage cannot say)."""

        async def url(key: str) -> str | None:
            with contextlib.suppress(TransientError):
                return await self._fetcher.storage.presign(key)
            return None

        async def view(entry: ClipEntry) -> dict[str, Any]:
            urls = await asyncio.gather(url(entry.r2_key), url(entry.thumbnail_r2_key))
            return entry.view(*urls)

        return list(await asyncio.gather(*(view(entry) for entry in entries)))
