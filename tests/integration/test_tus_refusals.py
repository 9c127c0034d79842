"""Resumable uploads' refusals on the real stack: each a problem+json carrying Tus-Resumable,
and none of them moves the offset."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from aiohttp import ClientResponse, ClientSession

from libs.settings import Settings
from tests.support import bearer, create_project, stack

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = {"Content-Type": "application/offset+octet-stream"}


async def _created(http: ClientSession, base: str, headers: dict[str, str], length: int) -> str:
    project_id = await create_project(http, base, headers)
    creation = {**headers, **TUS, "Upload-Length": str(length)}
    async with http.post(f"{base}/api/v1/projects/{project_id}/uploads", headers=creation) as r:
        assert r.status == 201, await r.text()
        return f"{base}{r.headers['Location']}"


async def _problem(response: ClientResponse, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["status"] == status
    return body


async def _offset(http: ClientSession, url: str, headers: dict[str, str]) -> int:
    async with http.head(url, headers={**headers, **TUS}) as response:
        assert response.status == 200
        return int(response.headers["Upload-Offset"])


async def _patch(
    http: ClientSession, url: str, headers: dict[str, str], offset: int, body: bytes, **more: str
) -> ClientResponse:
    sent = {**headers, **TUS, **CHUNK, "Upload-Offset": str(offset), **more}
    return await http.patch(url, headers=sent, data=body)


async def test_refusals_leave_the_offset_where_it_was(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    headers = bearer(settings, "alice")
    async with stack(settings) as base:
        url = await _created(http, base, headers, 100)
        async with await _patch(http, url, headers, 0, b"a" * 10) as response:
            assert response.status == 204
        async with await _patch(http, url, headers, 0, b"b" * 10) as response:
            assert (await _problem(response, 409))["offset"] == 10
        wrong = "sha1 " + base64.b64encode(hashlib.sha1(b"other").digest()).decode()
        async with await _patch(
            http, url, headers, 10, b"c" * 10, **{"Upload-Checksum": wrong}
        ) as response:
            await _problem(response, 460)
        async with await _patch(http, url, headers, 10, b"d" * 91) as response:
            await _problem(response, 413)
        async with http.patch(
            url, headers={**headers, **CHUNK, "Upload-Offset": "10"}, data=b"e"
        ) as response:
            await _problem(response, 412)
        assert await _offset(http, url, headers) == 10


async def test_unknown_and_terminated_uploads_are_not_found(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    headers = bearer(settings, "alice")
    async with stack(settings) as base:
        url = await _created(http, base, headers, 100)
        async with http.delete(url, headers={**headers, **TUS}) as response:
            assert response.status == 204
            assert response.headers["Tus-Resumable"] == "1.0.0"
        async with await _patch(http, url, headers, 0, b"a") as response:
            await _problem(response, 404)
        unknown = url.rpartition("/")[0] + "/" + "0" * 32
        async with await _patch(http, unknown, headers, 0, b"a") as response:
            await _problem(response, 404)
        async with http.delete(unknown, headers={**headers, **TUS}) as response:
            await _problem(response, 404)
        not_a_key = url.rpartition("/")[0] + "/%C2%84"  # NATS refuses it as a KV key
        async with await _patch(http, not_a_key, headers, 0, b"a") as response:
            await _problem(response, 404)
