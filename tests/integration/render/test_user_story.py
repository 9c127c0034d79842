"""The issue's user story on real servers and the real renderer: upload through the HTTP API,
watch the status move to ready, list the clips and fetch them through their URLs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from libs.settings import Settings
from tests.integration.render.support import is_jpeg, render
from tests.support import bearer, create_project, eventually, ingest, storage, tracking

pytestmark = pytest.mark.integration
HIGHLIGHTS = [
    {
        "start": 0.5,
        "end": 2.5,
        "title": "Kick-off",
        "description": "It starts.",
        "styles": ["split"],
    },
    {"start": 4, "end": 6, "title": "Goal", "styles": ["original", "vertical"]},
]


async def _status_seen(
    http: ClientSession, url: str, headers: dict[str, str], seen: list[str]
) -> bool:
    async with http.get(url, headers=headers) as response:
        video: dict[str, Any] = await response.json()
    if not seen or seen[-1] != video["status"]:
        seen.append(video["status"])
    return video["status"] in ("ready", "failed")


async def test_an_upload_becomes_listed_playable_clips(
    settings: Settings, bucket: Any, http: ClientSession, landscape: Path, tmp_path: Path
) -> None:
    fast = settings.model_copy(update={"render_preset": "ultrafast"})
    alice, seen = bearer(fast, "alice"), []
    async with storage(fast), tracking(fast), render(fast), ingest(fast) as base:
        project = await create_project(http, base, alice)
        form = {"file": landscape.open("rb"), "highlights": json.dumps(HIGHLIGHTS)}
        async with http.post(
            f"{base}/api/v1/projects/{project}/videos", data=form, headers=alice
        ) as response:
            video = (await response.json())["video_id"]
        url = f"{base}/api/v1/projects/{project}/videos/{video}"
        await eventually(lambda: _status_seen(http, url, alice, seen), timeout=60, interval=0.05)
        async with http.get(f"{url}/clips", headers=alice) as response:
            assert response.status == 200, await response.text()
            clips = (await response.json())["clips"]
        for clip in clips:
            async with http.get(clip["url"]) as got:
                (tmp_path / "clip.mp4").write_bytes(await got.read())
            async with http.get(clip["thumbnail_url"]) as got:
                (tmp_path / "clip.jpg").write_bytes(await got.read())
            assert b"ftyp" in (tmp_path / "clip.mp4").read_bytes()[:16]
            assert is_jpeg(tmp_path / "clip.jpg")
    assert seen[-1] == "ready" and "rendering" in seen
    described = [(c["title"], c["style"], c["start"], c["end"]) for c in clips]
    assert sorted(described) == [
        ("Goal", "original", 4.0, 6.0),
        ("Goal", "vertical", 4.0, 6.0),
        ("Kick-off", "split", 0.5, 2.5),
    ]
    assert all(c["size_bytes"] > 0 for c in clips)
