"""ingest's side of render: status moves and the clips listing, from records and highlights.json.

Here the render side is played by the test (render's own tests drive the real renderer): it
answers the render request with status events and pushes outputs through storage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from libs.messaging.events import RenderRequest, RenderStatus, decode, encode
from libs.messaging.topology import RENDER
from libs.runtime.wiring import topology_of
from libs.settings import Settings
from libs.storage.keys import clip_key, clip_stem, highlights_key, thumbnail_key
from tests.support import (
    bearer,
    connect_nats,
    create_project,
    eventually,
    push,
    service_bus,
    stack,
)


async def render_request(settings: Settings) -> RenderRequest:
    client = await connect_nats(settings)
    try:
        sub = await client.jetstream().pull_subscribe(
            topology_of(settings).render_requested, durable=None
        )
        [message] = await sub.fetch(1, timeout=30)
        return decode(RenderRequest, message.data)
    finally:
        await client.close()


async def announce(settings: Settings, request: RenderRequest, status: str) -> None:
    event = RenderStatus(
        user_id=request.user_id,
        project_id=request.project_id,
        video_id=request.video_id,
        status=status,  # type: ignore[arg-type]
    )
    async with service_bus(settings, RENDER) as bus:
        await bus.publish(bus.topology.render_status, encode(event), msg_id=f"{status}-test")


async def render_outputs(settings: Settings, request: RenderRequest) -> list[dict[str, Any]]:
    ids = (request.user_id, request.project_id, request.video_id)
    stem = clip_stem(1, 1, "Opening", "vertical")
    clip, thumb = clip_key(*ids, stem), thumbnail_key(*ids, stem)
    await push(settings, clip, b"mp4 bytes", "video/mp4")
    await push(settings, thumb, b"jpg", "image/jpeg")
    manifest = {
        "version": 1,
        "highlights": [
            {
                "number": 1, "start": 0.0, "end": 1.5, "title": "Opening",
                "description": "The start", "styles": ["vertical"],
                "clips": [{"style": "vertical", "key": clip, "thumbnail_key": thumb}],
            }
        ],
    }  # fmt: skip
    await push(settings, highlights_key(*ids), json.dumps(manifest).encode(), "application/json")
    return [{"r2_key": clip, "thumbnail_r2_key": thumb}]


async def test_clips_are_listed_once_ready_with_working_urls(
    settings: Settings, bucket: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with stack(settings) as base:
        project = await create_project(http, base, alice)
        form = {
            "file": small_video.open("rb"),
            "highlights": '[{"start": 0, "end": 1.5, "title": "Opening", "styles": ["vertical"]}]',
        }
        async with http.post(
            f"{base}/api/v1/projects/{project}/videos", data=form, headers=alice
        ) as r:
            video = (await r.json())["video_id"]
        request = await render_request(settings)
        assert request.video_id == video and request.highlights is not None
        assert request.highlights[0].title == "Opening"
        clips_url = f"{base}/api/v1/projects/{project}/videos/{video}/clips"

        await announce(settings, request, "rendering")
        answer = await eventually(lambda: _clips(http, clips_url, alice, 202, "rendering"))
        assert answer["detail"] == "Video is still being processed"

        expected = await render_outputs(settings, request)
        await announce(settings, request, "ready")
        listing = await eventually(lambda: _clips(http, clips_url, alice, 200, None))
        [clip] = listing["clips"]
        assert {k: clip[k] for k in ("r2_key", "thumbnail_r2_key")} == expected[0]
        assert (clip["title"], clip["description"], clip["style"]) == (
            "Opening",
            "The start",
            "vertical",
        )
        assert (clip["start"], clip["end"], clip["size_bytes"]) == (0.0, 1.5, len(b"mp4 bytes"))
        async with http.get(clip["url"]) as response:
            assert await response.read() == b"mp4 bytes"
        async with http.get(clip["thumbnail_url"]) as response:
            assert await response.read() == b"jpg"
        async with http.get(clips_url, headers=bearer(settings, "mallory")) as response:
            assert response.status == 404


async def test_a_failed_render_is_reported_on_the_video_and_its_clips(
    settings: Settings, bucket: Any, http: ClientSession, small_video: Path
) -> None:
    alice = bearer(settings, "alice")
    async with stack(settings) as base:
        project = await create_project(http, base, alice)
        with small_video.open("rb") as body:
            async with http.post(
                f"{base}/api/v1/projects/{project}/videos", data=body, headers=alice
            ) as r:
                video = (await r.json())["video_id"]
        request = await render_request(settings)
        assert request.highlights is None
        failed = RenderStatus(
            user_id="alice",
            project_id=project,
            video_id=video,
            status="failed",
            error="corrupt source",
        )
        async with service_bus(settings, RENDER) as bus:
            await bus.publish(bus.topology.render_status, encode(failed), msg_id="failed-test")
        url = f"{base}/api/v1/projects/{project}/videos/{video}"
        state = await eventually(lambda: _video_failed(http, url, alice))
        assert state["error"] == "corrupt source"
        async with http.get(f"{url}/clips", headers=alice) as response:
            assert response.status == 409
            assert (await response.json())["detail"] == "corrupt source"


async def _clips(
    http: ClientSession, url: str, headers: dict[str, str], status: int, video_status: str | None
) -> dict[str, Any] | None:
    async with http.get(url, headers=headers) as response:
        body: dict[str, Any] = await response.json()
        if response.status != status or (video_status and body.get("status") != video_status):
            return None
        return body


async def _video_failed(http: ClientSession, url: str, headers: dict[str, str]) -> Any:
    async with http.get(url, headers=headers) as response:
        body = await response.json()
    return body if body["status"] == "failed" else None
