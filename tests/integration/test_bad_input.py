"""Hostile input found by an attacker (issue #11): every case is a problem+json 4xx, never a 500
and never aiohttp's own text/plain answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession

from libs.settings import Settings
from libs.web.bounds import MAX_HEADER_FIELD_BYTES, MAX_JSON_BYTES, MAX_JSON_DEPTH, PARSER_LIMITS
from tests.integration.test_http_errors import problem_of
from tests.support import bearer, create_project, ingest, storage

pytestmark = pytest.mark.integration
BOUNDARY = "cliptrailboundary"


@pytest_asyncio.fixture
async def api(settings: Settings, bucket: Any) -> AsyncIterator[str]:
    async with storage(settings), ingest(settings) as base:
        yield base


@pytest_asyncio.fixture
async def videos_url(api: str, http: ClientSession, settings: Settings) -> str:
    project_id = await create_project(http, api, bearer(settings, "alice"))
    return f"{api}/api/v1/projects/{project_id}/videos"


def _form(part_headers: bytes, body: bytes) -> bytes:
    start = f"--{BOUNDARY}\r\n".encode()
    return start + part_headers + b"\r\n\r\n" + body + f"\r\n--{BOUNDARY}--\r\n".encode()


def _file_part(filename: bytes) -> bytes:
    return b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"'


async def _post_form(
    http: ClientSession, url: str, settings: Settings, content_type: str, body: bytes
) -> Any:
    headers = {**bearer(settings, "alice"), "Content-Type": content_type}
    return await http.post(url, data=body, headers=headers)


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", 'multipart/form-data; boundary="'],
)
async def test_multipart_without_a_boundary_is_400(
    videos_url: str, http: ClientSession, settings: Settings, small_video: Path, content_type: str
) -> None:
    body = _form(_file_part(b"a.mp4"), small_video.read_bytes())
    async with await _post_form(http, videos_url, settings, content_type, body) as response:
        problem = await problem_of(response, 400)
    assert problem["title"] == "Malformed multipart body"


@pytest.mark.parametrize(
    "part_headers",
    [
        b"no colon in this header line",
        b'Content-Disposition: form-data; name="file"\r\n\x00bad: header',
        b"Content-Disposition: form-data; name=file; filename*=utf-8''%ff%fe.mp4",
        b'Content-Disposition: form-data; name="file"\r\nContent-Transfer-Encoding: rot13',
        b'Content-Disposition: form-data; name="file"\r\nContent-Encoding: snappy',
        b"Content-Disposition: ;;;=",
    ],
)
async def test_broken_part_headers_are_4xx(
    videos_url: str, http: ClientSession, settings: Settings, small_video: Path, part_headers: bytes
) -> None:
    body = _form(part_headers, small_video.read_bytes())
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    async with await _post_form(http, videos_url, settings, content_type, body) as response:
        assert 400 <= response.status < 500, await response.text()
        await problem_of(response, response.status)


async def test_a_body_that_never_closes_its_multipart_is_400(
    videos_url: str, http: ClientSession, settings: Settings, small_video: Path
) -> None:
    video_start = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"x" * 1000
    body = f"--{BOUNDARY}\r\n".encode() + _file_part(b"a.mp4") + b"\r\n\r\n" + video_start
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    async with await _post_form(http, videos_url, settings, content_type, body) as response:
        await problem_of(response, 400)


@pytest.mark.parametrize(
    ("filename", "status", "title"),
    [
        # aiohttp's part parser refuses a NUL in any part header, as its request parser does
        (b"evil\x00.mp4", 400, "Malformed multipart body"),
        (b"a" * 10_000 + b".mp4", 413, "Multipart header too large"),
        (b"a" * 300 + b".mp4", 422, "Invalid filename"),
        (b"../../etc/passwd.mp4", 422, "Invalid filename"),
    ],
)
async def test_hostile_multipart_filenames_are_4xx(
    videos_url: str,
    http: ClientSession,
    settings: Settings,
    small_video: Path,
    filename: bytes,
    status: int,
    title: str,
) -> None:
    body = _form(_file_part(filename) + b"\r\nContent-Type: video/mp4", small_video.read_bytes())
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    async with await _post_form(http, videos_url, settings, content_type, body) as response:
        problem = await problem_of(response, status)
    assert problem["title"] == title


async def test_a_second_highlights_part_is_422(
    videos_url: str, http: ClientSession, settings: Settings, small_video: Path
) -> None:
    highlights = b'Content-Disposition: form-data; name="highlights"'
    parts = [(highlights, b"[]"), (highlights, b"[]"), (_file_part(b"a.mp4"), b"v")]
    body = (
        b"".join(
            _form(headers, data).removesuffix(f"--{BOUNDARY}--\r\n".encode())
            for headers, data in parts
        )
        + f"--{BOUNDARY}--\r\n".encode()
    )
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    async with await _post_form(http, videos_url, settings, content_type, body) as response:
        problem = await problem_of(response, 422)
    assert "highlights" in problem["detail"]


async def test_an_upload_that_is_not_a_video_type_is_415_before_reading(
    videos_url: str, http: ClientSession, settings: Settings
) -> None:
    body = b'{"just": "json"}'
    async with await _post_form(http, videos_url, settings, "application/json", body) as r:
        problem = await problem_of(r, 415)
    assert "multipart/form-data" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "status", "title"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 413, "Request body too large"),
        (b'{"name": ' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}", 422,
         "JSON nested too deeply"),
        (b'{"name": "x", "n": ' + b"9" * 5000 + b"}", 422, "JSON number too large"),
        (b'{"name": "x", "n": -' + b"9" * 100 + b"}", 422, "JSON number too large"),
        (b'{"name": NaN}', 400, "Malformed JSON"),
        (b'{"name": "x"} trailing', 400, "Malformed JSON"),
        (b"\xff\xfe{}", 400, "Malformed JSON"),
    ],
)  # fmt: skip
async def test_hostile_json_bodies_are_4xx(
    api: str, http: ClientSession, settings: Settings, body: bytes, status: int, title: str
) -> None:
    headers = {**bearer(settings, "alice"), "Content-Type": "application/json"}
    async with http.post(f"{api}/api/v1/projects", data=body, headers=headers) as response:
        problem = await problem_of(response, status)
    assert problem["title"] == title


async def test_a_json_body_over_the_limit_is_413_even_when_chunked(
    api: str, http: ClientSession, settings: Settings
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(MAX_JSON_BYTES // 1024 + 1):
            yield b"a" * 1024
        yield b'"}'

    headers = {**bearer(settings, "alice"), "Content-Type": "application/json"}
    async with http.post(f"{api}/api/v1/projects", data=chunks(), headers=headers) as response:
        problem = await problem_of(response, 413)
    assert problem["limit"] == MAX_JSON_BYTES


async def test_a_project_body_that_is_not_json_is_415(
    api: str, http: ClientSession, settings: Settings
) -> None:
    headers = {**bearer(settings, "alice"), "Content-Type": "text/plain"}
    async with http.post(f"{api}/api/v1/projects", data=b'{"name": "x"}', headers=headers) as r:
        await problem_of(r, 415)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/projects", {"GET", "HEAD", "POST"}),
        ("PATCH", "/api/v1/projects/abc", {"GET", "HEAD", "DELETE"}),
        ("DELETE", "/healthz", {"GET", "HEAD"}),
    ],
)
async def test_405_names_the_allowed_methods(
    api: str, http: ClientSession, settings: Settings, method: str, path: str, allowed: set[str]
) -> None:
    async with http.request(method, f"{api}{path}", headers=bearer(settings, "alice")) as r:
        problem = await problem_of(r, 405)
        allow = {m.strip() for m in r.headers["Allow"].split(",")}
    assert allow == allowed
    assert problem["allowed_methods"] == sorted(allowed)


async def test_an_oversized_authorization_header_is_431(
    api: str, http: ClientSession, settings: Settings
) -> None:
    headers = {"Authorization": "Bearer " + "a" * MAX_HEADER_FIELD_BYTES}
    async with http.get(f"{api}/api/v1/projects", headers=headers) as response:
        problem = await problem_of(response, 431)
    assert problem["limit"] == MAX_HEADER_FIELD_BYTES


async def test_too_many_header_bytes_in_all_is_431(
    api: str, http: ClientSession, settings: Settings
) -> None:
    headers = {f"X-Filler-{n}": "f" * 4000 for n in range(12)} | bearer(settings, "alice")
    async with http.get(f"{api}/api/v1/projects", headers=headers) as response:
        await problem_of(response, 431)


async def test_a_long_request_target_is_414(
    api: str, http: ClientSession, settings: Settings
) -> None:
    url = f"{api}/api/v1/projects?pad={'p' * MAX_HEADER_FIELD_BYTES}"
    async with http.get(url, headers=bearer(settings, "alice")) as response:
        await problem_of(response, 414)


async def test_past_the_parsers_hard_cap_aiohttp_itself_answers_a_plain_400(
    api: str, http: ClientSession
) -> None:
    """Documents the one answer that is not ours: aiohttp's parser refuses before any middleware
    runs (see libs/web/bounds.py), with a text/plain 400."""
    headers = {"X-Huge": "h" * (PARSER_LIMITS["max_field_size"] + 1)}
    async with http.get(f"{api}/healthz", headers=headers) as response:
        assert response.status == 400
        assert response.content_type == "text/plain"


@pytest.mark.parametrize("limit", ["²", "9" * 5000, "-1", "1e3"])
async def test_a_debug_limit_that_is_not_plain_digits_is_422(
    api: str, http: ClientSession, settings: Settings, limit: str
) -> None:
    url = f"{api}/api/v1/debug/r2-file-paths/p1"
    root = bearer(settings, "root", admin=True)
    async with http.get(url, params={"limit": limit}, headers=root) as response:
        await problem_of(response, 422)
