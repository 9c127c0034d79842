"""`make run`'s supervisor as a newcomer meets it: starts, serves, stops cleanly, keeps data."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp import ClientSession

from deploy.servers import free_port
from tests.support import create_project, eventually, upload

TOKEN = re.compile(r"dev token for user 'dev': (\S+)")


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    ports = {name: str(free_port()) for name in ("nats", "s3", "mongo", "http", "s", "t", "r")}
    return {
        **os.environ,
        "NATS_URL": f"nats://127.0.0.1:{ports['nats']}",
        "R2_ENDPOINT_URL": f"http://127.0.0.1:{ports['s3']}",
        "MONGODB_URI": f"mongodb://127.0.0.1:{ports['mongo']}",
        "CLIPTRAIL_HTTP_PORT": ports["http"],
        "CLIPTRAIL_STORAGE_HEALTH_PORT": ports["s"],
        "CLIPTRAIL_TRACKING_HEALTH_PORT": ports["t"],
        "CLIPTRAIL_RENDER_HEALTH_PORT": ports["r"],
        "CLIPTRAIL_DATA_DIR": str(tmp_path / "data"),
        "CLIPTRAIL_EMBEDDED": "1",
    }


def start_stack(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "deploy.stack"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def token_from(log: Path, offset: int = 0) -> str:
    async def printed() -> str | None:
        found = TOKEN.search(log.read_text(errors="replace")[offset:])
        return found.group(1) if found else None

    token: str = await eventually(printed, timeout=90, interval=0.2)
    return token


def stop(process: subprocess.Popen[bytes]) -> tuple[int, list[psutil.Process]]:
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGTERM)
    code = process.wait(60)
    return code, [child for child in children if child.is_running() and child.status() != "zombie"]


@pytest.fixture
def running_stacks() -> Iterator[list[subprocess.Popen[bytes]]]:
    stacks: list[subprocess.Popen[bytes]] = []
    yield stacks
    for process in stacks:
        if process.poll() is None:  # a failed test: let the stack stop its children first
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.timeout(300)
async def test_run_serves_stops_cleanly_and_keeps_data(
    stack_env: dict[str, str],
    tmp_path: Path,
    http: ClientSession,
    small_video: Path,
    running_stacks: list[subprocess.Popen[bytes]],
) -> None:
    log = tmp_path / "stack.log"
    running_stacks.append(start_stack(stack_env, log))
    headers = {"Authorization": f"Bearer {await token_from(log)}"}
    base = f"http://127.0.0.1:{stack_env['CLIPTRAIL_HTTP_PORT']}"
    await eventually(lambda: _ready(http, base), timeout=60)
    project_id = await create_project(http, base, headers)
    await create_project(http, base, headers)
    video_id = (await upload(http, base, headers, project_id, small_video))["video_id"]
    await eventually(lambda: _status(http, base, headers, project_id, video_id))
    before = await _listing(http, base, headers)
    code, survivors = stop(running_stacks[0])
    assert code == 0 and survivors == []

    data = Path(stack_env["CLIPTRAIL_DATA_DIR"])
    shutil.rmtree(data / "cache")  # R2 is the source of truth: the cache may go
    shutil.rmtree(data / "work")
    offset = len(log.read_text(errors="replace"))
    running_stacks.append(start_stack(stack_env, log))
    await token_from(log, offset)
    await eventually(lambda: _ready(http, base), timeout=60)
    assert await _status(http, base, headers, project_id, video_id)
    assert await _listing(http, base, headers) == before
    code, survivors = stop(running_stacks[1])
    assert code == 0 and survivors == []


async def test_port_in_use_is_a_one_line_error(
    stack_env: dict[str, str], tmp_path: Path, running_stacks: list[subprocess.Popen[bytes]]
) -> None:
    port = int(stack_env["NATS_URL"].rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        log = tmp_path / "stack.log"
        running_stacks.append(start_stack(stack_env, log))
        code = await asyncio.to_thread(running_stacks[0].wait, 60)
    assert code == 1
    assert f"127.0.0.1:{port} is already in use" in log.read_text()


async def _listing(http: ClientSession, base: str, headers: dict[str, str]) -> Any:
    async with http.get(f"{base}/api/v1/projects", headers=headers) as response:
        return await response.json()


async def _ready(http: ClientSession, base: str) -> bool:
    try:
        async with http.get(f"{base}/readyz") as response:
            return response.status == 200
    except OSError:
        return False


async def _status(
    http: ClientSession, base: str, headers: dict[str, str], project_id: str, video_id: str
) -> bool:
    """The upload is in the bucket (render may already be working on it)."""
    url = f"{base}/api/v1/projects/{project_id}/videos/{video_id}"
    async with http.get(url, headers=headers) as response:
        status = (await response.json())["status"] if response.status == 200 else None
    return status in ("stored", "rendering", "ready")
