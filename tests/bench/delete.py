"""`make bench`: deleting a project of 10,000 tracked objects, DELETE → empty prefix, next to
`s5cmd rm 'prefix/*'` on an identical copy and one DeleteObject request per key (the naive way).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pymongo import MongoClient

from libs.settings import Settings
from libs.storage.keys import clip_key, clip_stem
from libs.storage.records import COLLECTION
from libs.storage.s3 import s3_client
from libs.web.auth import issue_token
from tests.bench.upload import bench_settings, s5cmd, system, wait_healthy

OBJECTS = 10_000
CLIPS_PER_VIDEO = 10


def project_keys(user: str, project: str) -> list[str]:
    stem = [clip_stem(n, 1, f"clip {n}", "original") for n in range(1, CLIPS_PER_VIDEO + 1)]
    videos = OBJECTS // CLIPS_PER_VIDEO
    return [clip_key(user, project, f"v{v:04d}", s) for v in range(videos) for s in stem]


def seed_files(root: Path, keys: list[str], prefix: str) -> Path:
    """The same tiny file for every key, laid out so `s5cmd cp dir/*` recreates the keys."""
    tree = root / "tree"
    for key in keys:
        path = tree / key.removeprefix(prefix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"clip bytes")
    return tree


def record(key: str, user: str, project: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    video = key.split("/videos/")[1].split("/")[0]
    return {
        "object_key": key, "project_id": project, "user_id": user, "scene_id": None,
        "file_type": "clip", "size_bytes": 10, "content_type": "video/mp4",
        "metadata": {"video_id": video, "etag": ""}, "created_at": now, "updated_at": now,
    }  # fmt: skip


async def create_project(settings: Settings, headers: dict[str, str]) -> str:
    base = f"http://127.0.0.1:{settings.http_port}"
    async with aiohttp.ClientSession() as http:
        await wait_healthy(http, f"{base}/readyz")
        async with http.post(f"{base}/api/v1/projects", json={"name": "b"}, headers=headers) as r:
            project_id: str = (await r.json())["project_id"]
            return project_id


async def delete_until_empty(settings: Settings, headers: dict[str, str], project: str) -> float:
    base = f"http://127.0.0.1:{settings.http_port}"
    prefix = f"users/bench/projects/{project}/"
    async with aiohttp.ClientSession() as http, s3_client(settings) as s3:
        started = time.perf_counter()
        async with http.delete(f"{base}/api/v1/projects/{project}", headers=headers) as r:
            assert r.status == 204, await r.text()
        while (
            await s3.list_objects_v2(Bucket=settings.r2_bucket_name, Prefix=prefix, MaxKeys=1)
        ).get("KeyCount"):
            await asyncio.sleep(0.05)
        return time.perf_counter() - started


async def naive_delete(settings: Settings, keys: list[str]) -> float:
    async with s3_client(settings) as s3:
        started = time.perf_counter()
        for key in keys:
            await s3.delete_object(Bucket=settings.r2_bucket_name, Key=key)
        return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cliptrail-bench-") as temp:
        root = Path(temp)
        settings = bench_settings(root)
        bucket = f"s3://{settings.r2_bucket_name}"
        token = issue_token(settings.auth_jwt_secret.get_secret_value(), "bench")
        headers = {"Authorization": f"Bearer {token}"}
        with system(settings, root):
            project = asyncio.run(create_project(settings, headers))
            keys = project_keys("bench", project)
            prefix = f"users/bench/projects/{project}/"
            tree = seed_files(root, keys, prefix)
            print(f"bench: seeding 3 copies of {OBJECTS} objects...", flush=True)
            for copy in (prefix, "s5cmd-copy/", "naive-copy/"):
                s5cmd(settings, "cp", f"{tree}/*", f"{bucket}/{copy}")
            mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
            mongo[settings.mongodb_db][COLLECTION].insert_many(
                [record(k, "bench", project) for k in keys]
            )
            print("bench: DELETE through cliptrail...", flush=True)
            ours = asyncio.run(delete_until_empty(settings, headers, project))
            theirs = s5cmd(settings, "rm", f"{bucket}/s5cmd-copy/*")
            naive = asyncio.run(
                naive_delete(settings, [k.replace(prefix, "naive-copy/") for k in keys])
            )
            left = mongo[settings.mongodb_db][COLLECTION].count_documents({"project_id": project})
            mongo.close()
    print(f"objects                              {OBJECTS}")
    print(f"cliptrail DELETE -> empty prefix     {ours:7.2f} s   (records left: {left})")
    print(f"s5cmd rm 'prefix/*'                  {theirs:7.2f} s")
    print(f"one DeleteObject per key (naive)     {naive:7.2f} s")
    print(f"ratio cliptrail / s5cmd              {ours / theirs:7.2f}x")
    print(f"ratio cliptrail / naive              {ours / naive:7.2f}x")


if __name__ == "__main__":
    main()
