"""Resumable uploads over tus 1.0 (tuspy): a local state file to resume from, a progress bar.

The upload's URL is written to the state file as soon as the server creates it, keyed by the
server, the project and the file (path, size, mtime): running the same command again after
Ctrl-C or a dropped connection asks the server for its offset and sends only the rest.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import requests
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed

from client.api import Api, Problem, Unreachable, problem_of

MIB = 1024 * 1024


def state_path() -> Path:
    """$XDG_CACHE_HOME/cliptrail/uploads.json (~/.cache when unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "cliptrail" / "uploads.json"


def state_key(base: str, project_id: str, path: Path) -> str:
    stat = path.stat()
    return f"{base.rstrip('/')} {project_id} {path.resolve()} {stat.st_size} {stat.st_mtime_ns}"


@dataclass(frozen=True)
class States:
    """Unfinished uploads' URLs in one small JSON file (written whole, atomically)."""

    path: Path

    def read(self) -> dict[str, str]:
        try:
            loaded = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def put(self, key: str, url: str | None) -> None:
        states = self.read()
        if url is None:
            states.pop(key, None)
        else:
            states[key] = url
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(states, indent=2))
        temporary.replace(self.path)


class Progress:
    """One line on stderr: percent, bytes, rate and ETA (of the bytes sent by this run)."""

    def __init__(self, total: int, start: int, out: TextIO = sys.stderr) -> None:
        self.total, self.start, self.out = total, start, out
        self.began = time.monotonic()

    def show(self, offset: int) -> None:
        elapsed = max(time.monotonic() - self.began, 1e-6)
        rate = (offset - self.start) / elapsed
        eta = (self.total - offset) / rate if rate > 0 else 0.0
        percent = 100 * offset / self.total if self.total else 100.0
        line = f"{percent:5.1f}% {offset / MIB:,.1f}/{self.total / MIB:,.1f} MiB"
        minutes, seconds = divmod(int(eta), 60)
        self.out.write(f"\r{line}  {rate / MIB:,.1f} MiB/s  ETA {minutes}:{seconds:02d} ")
        self.out.flush()

    def done(self) -> None:
        self.out.write("\n")
        self.out.flush()


@contextmanager
def tus_errors() -> Iterator[None]:
    """tuspy's exceptions as the client's: Problem when the server answered, else Unreachable."""
    try:
        yield
    except (TusCommunicationError, TusUploadFailed) as exc:
        if exc.status_code is None:
            raise Unreachable(f"connection lost: {exc}") from exc
        raise problem_of(exc.status_code, exc.response_content or b"") from exc
    except requests.RequestException as exc:
        raise Unreachable(f"connection lost: {type(exc).__name__}") from exc


def _uploader(client: TusClient, stream: Any, url: str | None, chunk: int, meta: Any) -> Any:
    with tus_errors():
        return client.uploader(
            file_stream=stream, url=url, chunk_size=chunk, metadata=meta, upload_checksum=True
        )


def _resumable(client: TusClient, stream: Any, url: str | None, chunk: int, meta: Any) -> Any:
    """An uploader at the server's offset of `url`, or a new upload if the server no longer
    knows that one (expired, terminated)."""
    if url is not None:
        try:
            return _uploader(client, stream, url, chunk, meta)
        except Problem as problem:
            if problem.status not in (404, 410):
                raise
    return _uploader(client, stream, None, chunk, meta)


@dataclass(frozen=True)
class Sent:
    """A finished upload: the video it became, and where this run started from."""

    video_id: str
    resumed_at: int


def upload(
    api: Api, states: States, project_id: str, path: Path, highlights: str | None, chunk: int
) -> Sent:
    """Send `path` in `chunk`-byte PATCHes, resuming an earlier run's upload when there is one."""
    key = state_key(api.base, project_id, path)
    endpoint = f"{api.base.rstrip('/')}/api/v1/projects/{project_id}/uploads"
    meta = {"filename": path.name} | ({"highlights": highlights} if highlights else {})
    with path.open("rb") as stream:
        uploader = _resumable(
            TusClient(endpoint, api.headers), stream, states.read().get(key), chunk, meta
        )
        with tus_errors():
            if not uploader.url:
                uploader.set_url(uploader.create_url())
        states.put(key, uploader.url)
        start = int(uploader.offset)
        if start:
            print(f"resuming at {start} bytes of {path.stat().st_size}", file=sys.stderr)
        video_id = _send(uploader, Progress(uploader.get_file_size(), start))
    states.put(key, None)
    return Sent(video_id, start)


def _send(uploader: Any, progress: Progress) -> str:
    """PATCH chunks until the offset is the size; the video id from the last answer."""
    with tus_errors():
        while uploader.offset < progress.total:
            uploader.upload_chunk()
            progress.show(int(uploader.offset))
    progress.done()
    answer = getattr(uploader, "request", None)  # None when nothing was left to send
    return str(answer.response_headers.get("cliptrail-video-id", "")) if answer else ""
