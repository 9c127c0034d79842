"""A client of the three ingest replicas, as a real one behaves: requests round-robin over
the replicas; a refused connection, a 503 or a 429 is tried again on the next replica after
Retry-After (capped); any other answer is final."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, FormData, JsonPayload

from libs.settings import Settings
from tests.support import bearer

RETRIED = frozenset({429, 503})
ATTEMPTS = 40
MAX_WAIT_SECONDS = 1.0
HIGHLIGHT = [{"start": 0.5, "end": 1.5, "title": "Best bit", "styles": ["original"]}]


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    base: str


@dataclass
class Client:
    http: ClientSession
    urls: list[str]
    settings: Settings
    retried: list[str] = field(default_factory=list)  # what was tried again, for the report

    def __post_init__(self) -> None:
        self._next = itertools.cycle(self.urls)

    def next_url(self) -> str:
        return next(self._next)

    def aim(self, url: str) -> None:
        """The next request goes to `url`, the round goes on from there."""
        start = self.urls.index(url)
        self._next = itertools.cycle(self.urls[start:] + self.urls[:start])

    def headers(self, user: str) -> dict[str, str]:
        return bearer(self.settings, user)

    async def call(
        self, method: str, path: str, user: str, body: Callable[[], Any] = lambda: None
    ) -> Answer:
        """The first answer that is not a refused connection, a 503 or a 429; `body` makes
        each attempt's request body afresh."""
        for _ in range(ATTEMPTS):
            base = self.next_url()
            answer, wait = await self._once(method, f"{base}{path}", user, body())
            if answer is not None:
                return answer
            await asyncio.sleep(wait)
        raise AssertionError(f"{method} {path}: no replica answered in {ATTEMPTS} attempts")

    async def _once(
        self, method: str, url: str, user: str, body: Any
    ) -> tuple[Answer | None, float]:
        headers = self.headers(user)
        try:
            async with self.http.request(method, url, headers=headers, data=body) as response:
                text = await response.text()
                if response.status not in RETRIED:
                    return Answer(response.status, json.loads(text) if text else None, url), 0
                self.retried.append(f"{method} {url}: {response.status}")
                wait = float(response.headers.get("Retry-After", "1"))
                return None, min(wait, MAX_WAIT_SECONDS)
        except (ClientError, OSError) as exc:
            self.retried.append(f"{method} {url}: {type(exc).__name__}")
            return None, 0.1

    async def create_project(self, user: str) -> str:
        answer = await self.call(
            "POST", "/api/v1/projects", user, lambda: JsonPayload({"name": "p"})
        )
        assert answer.status == 201, answer
        return str(answer.body["project_id"])

    async def delete_project(self, user: str, project: str) -> None:
        answer = await self.call("DELETE", f"/api/v1/projects/{project}", user)
        # 404: an earlier attempt deleted it, its answer lost with the connection
        assert answer.status in (204, 404), answer

    async def upload(self, user: str, project: str, video: Path) -> Answer:
        def form() -> FormData:
            data = FormData()
            data.add_field("highlights", json.dumps(HIGHLIGHT))
            data.add_field("file", io.BytesIO(video.read_bytes()), filename=video.name)
            return data

        path = f"/api/v1/projects/{project}/videos"
        return await self.call("POST", path, user, form)

    async def projects(self, base: str, user: str) -> set[str]:
        url = f"{base}/api/v1/projects"
        async with self.http.get(url, headers=self.headers(user)) as response:
            assert response.status == 200, await response.text()
            return {p["project_id"] for p in (await response.json())["projects"]}

    async def video_status(self, base: str, user: str, project: str, video: str) -> str:
        url = f"{base}/api/v1/projects/{project}/videos/{video}"
        async with self.http.get(url, headers=self.headers(user)) as response:
            return str((await response.json()).get("status")) if response.status == 200 else ""
