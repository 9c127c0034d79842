"""The cliptrail HTTP API from a command line: blocking calls, refusals as `Problem`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

TIMEOUT = 30.0


class Problem(Exception):
    """The server refused: its problem+json title and detail."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.title, self.detail = status, title, detail


class Unreachable(Exception):
    """No answer from the server (refused, reset, timed out, or not a cliptrail API)."""


def problem_of(status: int, content: bytes) -> Problem:
    """A Problem from an answer's body (RFC 9457), or from its status when the body is not one."""
    try:
        body = json.loads(content)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    text = content.decode(errors="replace").strip()[:200]
    return Problem(
        status, str(body.get("title") or f"HTTP {status}"), str(body.get("detail", text))
    )


@dataclass
class Api:
    """One server, one bearer token."""

    base: str
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **options: Any) -> requests.Response:
        """One request; a 4xx/5xx answer raises Problem, no answer raises Unreachable."""
        try:
            response = self.session.request(
                method, self.base.rstrip("/") + path, headers=self.headers, timeout=TIMEOUT,
                **options,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise Unreachable(f"cannot reach {self.base}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise problem_of(response.status_code, response.content)
        return response

    def projects(self) -> Any:
        return self.call("GET", "/api/v1/projects").json()

    def create_project(self, name: str) -> Any:
        return self.call("POST", "/api/v1/projects", json={"name": name}).json()

    def delete_project(self, project_id: str) -> None:
        self.call("DELETE", f"/api/v1/projects/{project_id}")

    def video(self, project_id: str, video_id: str) -> Any:
        return self.call("GET", f"/api/v1/projects/{project_id}/videos/{video_id}").json()

    def clips(self, project_id: str, video_id: str) -> tuple[int, Any]:
        """(200, {"clips": [...]}) or (202, {"detail", "status"}) while still processing."""
        response = self.call("GET", f"/api/v1/projects/{project_id}/videos/{video_id}/clips")
        return response.status_code, response.json()

    def download(self, url: str, target: Path) -> None:
        """A presigned URL's object into `target`, streamed (no bearer: the URL is the grant)."""
        try:
            with requests.get(url, stream=True, timeout=TIMEOUT) as response:
                if response.status_code >= 400:
                    raise problem_of(response.status_code, response.content)
                with target.open("wb") as out:
                    for chunk in response.iter_content(1024 * 1024):
                        out.write(chunk)
        except requests.RequestException as exc:
            raise Unreachable(f"cannot download {target.name}: {type(exc).__name__}") from exc
