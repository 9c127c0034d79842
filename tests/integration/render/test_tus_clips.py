"""A resumable (tus 1.0) upload with highlights becomes a ready video with its clips, on real
servers and the real renderer."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from libs.settings import Settings
from tests.integration.render.support import render
from tests.support import bearer, create_project, eventually, ingest, storage, tracking

pytestmark = pytest.mark.integration
HIGHLIGHTS = [{"start": 1, "end": 2, "title": "Goal", "styles": ["original"]}]


def _metadata(video: Path) -> str:
    pairs = {"filename": video.name.encode(), "highlights": json.dumps(HIGHLIGHTS).encode()}
    return ",".join(f"{key} {base64.b64encode(value).decode()}" for key, value in pairs.items())


async def _status(http: ClientSession, url: str, headers: dict[str, str]) -> str | None:
    async with http.get(url, headers=headers) as response:
        status: str = (await response.json())["status"]
    return status if status in ("ready", "failed") else None


async def test_a_tus_upload_with_highlights_reaches_ready_with_its_clips(
    settings: Settings, bucket: Any, http: ClientSession, landscape: Path
) -> None:
    fast = settings.model_copy(update={"render_preset": "ultrafast"})
    alice, data = bearer(fast, "alice"), landscape.read_bytes()
    async with storage(fast), tracking(fast), render(fast), ingest(fast) as base:
        project = await create_project(http, base, alice)
        creation = {
            **alice,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": _metadata(landscape),
            "Content-Type": "application/offset+octet-stream",
        }
        async with http.post(
            f"{base}/api/v1/projects/{project}/uploads", headers=creation, data=io.BytesIO(data)
        ) as response:
            assert response.status == 201, await response.text()
            assert int(response.headers["Upload-Offset"]) == len(data)
            url = f"{base}{response.headers['Cliptrail-Video-Location']}"
        assert await eventually(lambda: _status(http, url, alice), timeout=60) == "ready"
        async with http.get(f"{url}/clips", headers=alice) as response:
            assert response.status == 200, await response.text()
            clips = (await response.json())["clips"]
        assert [(c["title"], c["style"]) for c in clips] == [("Goal", "original")]
        async with http.get(clips[0]["url"]) as got:
            assert got.status == 200
            assert b"ftyp" in (await got.read())[:16]
        async with http.get(clips[0]["thumbnail_url"]) as got:
            assert got.status == 200
