"""Bad input gets a precise problem+json 4xx, and nothing reaches the bucket or the work dir."""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import pytest_asyncio
from aiohttp import ClientSession

from libs.media.runner import ffmpeg_exe
from libs.settings import Settings
from tests.support import bearer, create_project, ingest, leftovers, storage

PROBLEM = "application/problem+json"


@pytest_asyncio.fixture
async def api(settings: Settings, bucket: Any) -> AsyncIterator[str]:
    """Storage and ingest with a 1 MiB upload limit (no tracking: nothing here is recorded)."""
    limited = settings.model_copy(update={"max_upload_bytes": 1024 * 1024})
    async with storage(limited), ingest(limited) as base:
        yield base


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


async def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body: dict[str, Any] = await response.json()
    assert body["status"] == status and body["title"]
    return body


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Basic abc",
        "Bearer not-a-jwt",
        "Bearer " + jwt.encode({"sub": "x"}, "wrong-secret-wrong-secret-wrong-secret"),
    ],
)
async def test_missing_or_bad_token_is_401(
    api: str, http: ClientSession, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with http.get(f"{api}/api/v1/projects", headers=headers) as response:
        await problem_of(response, 401)


async def test_expired_token_and_bad_subject_are_401(
    api: str, http: ClientSession, settings: Settings
) -> None:
    secret = settings.auth_jwt_secret.get_secret_value()
    expired = jwt.encode({"sub": "alice", "exp": int(time.time()) - 600}, secret)  # past the leeway
    dotted = jwt.encode({"sub": "../alice"}, secret)
    for token in (expired, dotted):
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{api}/api/v1/projects", headers=headers) as response:
            await problem_of(response, 401)


async def test_other_users_project_is_404(
    api: str, http: ClientSession, settings: Settings, small_video: Path
) -> None:
    project_id = await create_project(http, api, bearer(settings, "alice"))
    mallory = bearer(settings, "mallory")
    for path in ("", "/videos/" + "0" * 32):
        async with http.get(f"{api}/api/v1/projects/{project_id}{path}", headers=mallory) as r:
            await problem_of(r, 404)
    url = f"{api}/api/v1/projects/{project_id}/videos"
    async with http.post(url, data=small_video.read_bytes(), headers=mallory) as response:
        await problem_of(response, 404)
    async with http.get(f"{api}/api/v1/projects", headers=mallory) as response:
        assert (await response.json())["projects"] == []


@pytest.mark.parametrize("project_id", ["..%2F..%2Fetc", "a" * 65, "%00", "p%20q"])
async def test_malformed_project_ids_are_404(
    api: str, http: ClientSession, settings: Settings, project_id: str
) -> None:
    url = f"{api}/api/v1/projects/{project_id}"
    async with http.get(url, headers=bearer(settings, "alice")) as response:
        await problem_of(response, 404)


async def test_oversized_upload_is_413_early_and_midstream(
    api: str, http: ClientSession, settings: Settings, tmp_path: Path
) -> None:
    alice = bearer(settings, "alice")
    project_id = await create_project(http, api, alice)
    url = f"{api}/api/v1/projects/{project_id}/videos"
    declared = {**alice, "Content-Length": str(2 * 1024 * 1024)}
    async with http.post(
        url, data=io.BytesIO(b"x" * (2 * 1024 * 1024)), headers=declared
    ) as response:
        body = await problem_of(response, 413)
    assert body["limit"] == 1024 * 1024

    async def chunked() -> AsyncIterator[bytes]:
        yield MP4_HEAD  # a video's first bytes: the refusal comes from the size, mid-stream
        for _ in range(8):
            yield b"y" * (256 * 1024)

    async with http.post(url, data=chunked(), headers=alice) as response:
        await problem_of(response, 413)
    assert await leftovers(settings) == []


async def test_non_video_is_415(
    api: str, http: ClientSession, settings: Settings, tmp_path: Path
) -> None:
    alice = bearer(settings, "alice")
    project_id = await create_project(http, api, alice)
    url = f"{api}/api/v1/projects/{project_id}/videos?filename=notes.mp4"
    async with http.post(url, data=b"just some text, not a video\n" * 100, headers=alice) as r:
        await problem_of(r, 415)
    assert await leftovers(settings) == []


def make_wide_frame(path: Path) -> Path:
    """One 3842x2160 frame (two columns past 4K UHD's area), tiny at the worst quality."""
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=3842x2160:rate=1:duration=1", "-frames:v", "1",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "51", str(path)],
        check=True,
    )  # fmt: skip
    return path


async def test_a_video_past_the_pixel_limit_is_422_with_the_figures(
    api: str, http: ClientSession, settings: Settings, tmp_path: Path
) -> None:
    wide = await asyncio.to_thread(make_wide_frame, tmp_path / "wide.mp4")
    alice = bearer(settings, "alice")
    project_id = await create_project(http, api, alice)
    url = f"{api}/api/v1/projects/{project_id}/videos?filename=wide.mp4"
    async with http.post(url, data=wide.read_bytes(), headers=alice) as r:
        body = await problem_of(r, 422)
    assert "3842x2160 is above the limit of 3840x2160 pixels" in body["detail"]
    assert body["video"]["width"] == 3842 and body["limits"]["max_pixels"] == "3840x2160"
    assert await leftovers(settings) == []


@pytest.mark.parametrize(
    "highlights",
    [
        "not json",
        '{"start": 0}',
        '[{"start": 1, "end": 1, "title": "t"}]',
        '[{"start": 0, "end": 1, "title": "t", "styles": ["sepia"]}]',
        '[{"start": 50, "end": 55, "title": "past the end"}]',
        '[{"start": 0, "end": 1.5, "title": "a"}, {"start": 1, "end": 1.8, "title": "b"}]',
    ],
)
async def test_bad_highlights_are_422(
    api: str, http: ClientSession, settings: Settings, small_video: Path, highlights: str
) -> None:
    alice = bearer(settings, "alice")
    project_id = await create_project(http, api, alice)
    form = {"file": io.BytesIO(small_video.read_bytes()), "highlights": highlights}
    async with http.post(
        f"{api}/api/v1/projects/{project_id}/videos", data=form, headers=alice
    ) as r:
        await problem_of(r, 422)
    assert await leftovers(settings) == []


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.mp4", "a/b.mp4", "..", "evil\x00.mp4", "tab\there.mp4", "back\\slash.mp4"],
)
async def test_path_trick_filenames_are_422(
    api: str, http: ClientSession, settings: Settings, small_video: Path, filename: str
) -> None:
    alice = bearer(settings, "alice")
    project_id = await create_project(http, api, alice)
    url = f"{api}/api/v1/projects/{project_id}/videos"
    params = {"filename": filename}
    async with http.post(url, params=params, data=small_video.read_bytes(), headers=alice) as r:
        await problem_of(r, 422)
    assert await leftovers(settings) == []
    assert not (settings.data_dir.parent / "etc").exists()


async def test_malformed_json_and_bad_names(
    api: str, http: ClientSession, settings: Settings
) -> None:
    alice = {**bearer(settings, "alice"), "Content-Type": "application/json"}
    url = f"{api}/api/v1/projects"
    async with http.post(url, data=b"{not json", headers=alice) as response:
        await problem_of(response, 400)
    for body in (b"[]", b'{"name": ""}', b'{"name": 5}', b'{"name": "a\\u0000b"}'):
        async with http.post(url, data=body, headers=alice) as response:
            await problem_of(response, 422)


async def test_unknown_route_and_method_are_problems(
    api: str, http: ClientSession, settings: Settings
) -> None:
    alice = bearer(settings, "alice")
    async with http.get(f"{api}/api/v1/nothing-here", headers=alice) as response:
        await problem_of(response, 404)
    async with http.put(f"{api}/api/v1/projects", headers=alice) as response:
        await problem_of(response, 405)
