"""Upload → bucket under the contract's key → record in r2_file_paths, on real servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from libs.settings import Settings
from tests.support import bearer, create_project, eventually, ingest, storage, tracking, upload


async def test_upload_is_stored_under_the_contract_key_and_tracked(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with storage(settings), tracking(settings), ingest(settings) as base:
        project_id = await create_project(http, base, alice)
        answer = await upload(http, base, alice, project_id, small_video)
        key = f"users/alice/projects/{project_id}/videos/{answer['video_id']}/source.mp4"
        assert answer == {"video_id": answer["video_id"], "r2_key": key, "status": "stored"}

        record = await eventually(lambda: records_collection.find_one({"object_key": key}))
        stored = await bucket.head(key)
        size = small_video.stat().st_size
        assert (stored.size, stored.content_type) == (size, "video/mp4")
        assert record["project_id"] == project_id
        assert record["user_id"] == "alice"
        assert record["file_type"] == "source"
        assert record["scene_id"] is None
        assert record["size_bytes"] == size
        assert record["content_type"] == "video/mp4"
        assert record["metadata"]["video_id"] == answer["video_id"]
        assert record["metadata"]["etag"] == stored.etag
        assert record["created_at"] == record["updated_at"]

        video = await _video_when_stored(http, base, alice, project_id, answer["video_id"])
        assert video["size_bytes"] == size and video["error"] is None
        async with http.get(video["url"]) as presigned:
            assert presigned.status == 200
            assert await presigned.read() == small_video.read_bytes()
        assert _no_scratch_files(settings)


async def test_indexes_exist_on_the_ledger(settings: Settings, records_collection: Any) -> None:
    async with tracking(settings):
        indexes = await records_collection.index_information()
    keys = {next(iter(spec["key"]))[0]: spec.get("unique", False) for spec in indexes.values()}
    assert keys["object_key"] is True
    assert "project_id" in keys and "user_id" in keys


async def test_multipart_upload_with_highlights(
    settings: Settings, bucket: Any, records_collection: Any, http: ClientSession, small_video: Path
) -> None:
    bob = bearer(settings, "bob")
    async with storage(settings), tracking(settings), ingest(settings) as base:
        project_id = await create_project(http, base, bob)
        form = {
            "file": small_video.open("rb"),
            "highlights": '[{"start": 0, "end": 1.5, "title": "Hi", "styles": ["vertical"]}]',
        }
        url = f"{base}/api/v1/projects/{project_id}/videos"
        async with http.post(url, data=form, headers=bob) as response:
            assert response.status == 202, await response.text()
            key = (await response.json())["r2_key"]
        await eventually(lambda: records_collection.find_one({"object_key": key}))
        assert (await bucket.head(key)).size == small_video.stat().st_size


async def _video_when_stored(
    http: ClientSession, base: str, headers: dict[str, str], project_id: str, video_id: str
) -> dict[str, Any]:
    url = f"{base}/api/v1/projects/{project_id}/videos/{video_id}"

    async def stored() -> dict[str, Any] | None:
        async with http.get(url, headers=headers) as response:
            video: dict[str, Any] = await response.json()
        return video if video["status"] == "stored" and video["url"] else None

    result: dict[str, Any] = await eventually(stored)
    return result


def _no_scratch_files(settings: Settings) -> bool:
    """The upload streamed straight to the bucket: ingest kept no file of it (only catalogs)."""
    scratch = settings.scratch_dir("ingest")
    return all("cache" in path.relative_to(scratch).parts for path in scratch.rglob("*.*"))
