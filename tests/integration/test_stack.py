"""`make run`'s supervisor as a newcomer meets it: starts, serves, stops cleanly, keeps data.

Also as an operator meets it: stopped by a process group's SIGTERM through GNU make, SIGKILLed,
hung up on; nothing it started outlives it, and the next start comes up on the same ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp import ClientSession

from deploy.devsecret import SECRET_FILE
from deploy.servers import StackError, check_port_free, free_port
from tests.support import answers_ok, create_project, eventually, upload

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r"dev token for user 'dev': (\S+)")
STACK = [sys.executable, "-m", "deploy.stack"]
# -o: never let a test reinstall the shared virtualenv because pyproject.toml is newer
MAKE_RUN = ["make", "-s", "-o", ".venv/.installed-stamp", "run"]


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    ports = {name: str(free_port()) for name in ("nats", "s3", "mongo", "http", "s", "t", "r")}
    return {
        **{name: value for name, value in os.environ.items() if name != "AUTH_JWT_SECRET"},
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


def start_stack(env: dict[str, str], log: Path, argv: list[str] = STACK) -> subprocess.Popen[bytes]:
    """In its own process group, as a terminal's job control or a process manager runs it."""
    with log.open("ab") as out:
        return spawn(argv, env, out.fileno())


def spawn(argv: list[str], env: dict[str, str], out: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


async def token_from(log: Path, offset: int = 0) -> str:
    async def printed() -> str | None:
        found = TOKEN.search(log.read_text(errors="replace")[offset:])
        return found.group(1) if found else None

    token: str = await eventually(printed, timeout=90, interval=0.2)
    return token


def family(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The process and all it started: three servers and four services (and make's child)."""
    parent = psutil.Process(process.pid)
    members = [parent, *parent.children(recursive=True)]
    assert len(members) >= 8, [member.name() for member in members]
    return members


async def survivors(members: list[psutil.Process], timeout: float = 30.0) -> list[psutil.Process]:
    """Those still running once all have exited or `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while (alive := [m for m in members if _alive(m)]) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return alive


def _alive(member: psutil.Process) -> bool:
    try:
        return member.is_running() and member.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def stop(
    process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM
) -> tuple[int, list[psutil.Process]]:
    members = family(process)
    process.send_signal(sig)
    code = await asyncio.to_thread(process.wait, 60)
    return code, await survivors(members)


async def stop_hammered(process: subprocess.Popen[bytes]) -> tuple[int, list[psutil.Process]]:
    """Ctrl-C, then SIGTERM and SIGINT back to back for a while, then more until it exits.

    The stream covers the microseconds just after the first signal, where a handler that raises
    (or that is replaced only once the stop has begun) lets a second signal abandon the stop.
    """
    members = family(process)
    process.send_signal(signal.SIGINT)
    for sig in itertools.islice(itertools.cycle((signal.SIGTERM, signal.SIGINT)), 50_000):
        os.kill(process.pid, sig)
    while process.poll() is None:
        await asyncio.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
    return process.returncode, await survivors(members)


async def up(http: ClientSession, env: dict[str, str], log: Path, offset: int = 0) -> str:
    """The dev token, once the API answers ready."""
    token = await token_from(log, offset)
    await eventually(lambda: answers_ok(http, f"{_base(env)}/readyz"), timeout=60)
    return token


def _base(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['CLIPTRAIL_HTTP_PORT']}"


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
    headers = {"Authorization": f"Bearer {await up(http, stack_env, log)}"}
    base = _base(stack_env)
    project_id = await create_project(http, base, headers)
    await create_project(http, base, headers)
    video_id = (await upload(http, base, headers, project_id, small_video))["video_id"]
    await eventually(lambda: _status(http, base, headers, project_id, video_id))
    before = await _listing(http, base, headers)
    assert await stop(running_stacks[0]) == (0, [])
    secret = Path(stack_env["CLIPTRAIL_DATA_DIR"]) / SECRET_FILE  # generated on first start
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    data = Path(stack_env["CLIPTRAIL_DATA_DIR"])
    for service in ("ingest", "storage", "tracking", "render"):  # R2 is the source of truth:
        shutil.rmtree(data / service, ignore_errors=True)  # every scratch dir may go
    offset = len(log.read_text(errors="replace"))
    running_stacks.append(start_stack(stack_env, log))
    await up(http, stack_env, log, offset)
    assert await _status(http, base, headers, project_id, video_id)
    assert await _listing(http, base, headers) == before  # the first token still works
    assert await stop(running_stacks[1]) == (0, [])


@pytest.mark.timeout(240)
async def test_group_sigterm_through_make_stops_everything_and_ports_are_reusable(
    stack_env: dict[str, str],
    tmp_path: Path,
    http: ClientSession,
    running_stacks: list[subprocess.Popen[bytes]],
) -> None:
    """kill -TERM -<pgid>: GNU make forwards the SIGTERM, so the supervisor gets it twice."""
    log = tmp_path / "stack.log"
    make = start_stack(stack_env, log, MAKE_RUN)
    running_stacks.append(make)
    await up(http, stack_env, log)
    members = family(make)
    os.killpg(make.pid, signal.SIGTERM)
    await asyncio.to_thread(make.wait, 60)
    assert await survivors(members) == []
    assert "cliptrail: stopped" in log.read_text()  # the shutdown ran to its end

    offset = len(log.read_text(errors="replace"))
    running_stacks.append(start_stack(stack_env, log))  # right away, on the same ports
    await up(http, stack_env, log, offset)
    assert await stop_hammered(running_stacks[1]) == (0, [])
    assert log.read_text().endswith("cliptrail: stopped\n")


@pytest.mark.timeout(240)
async def test_sigkill_and_hangup_leave_nothing_behind_and_the_next_start_comes_up(
    stack_env: dict[str, str],
    tmp_path: Path,
    http: ClientSession,
    running_stacks: list[subprocess.Popen[bytes]],
) -> None:
    log = tmp_path / "stack.log"
    running_stacks.append(start_stack(stack_env, log))
    await up(http, stack_env, log)
    members = family(running_stacks[0])
    os.killpg(running_stacks[0].pid, signal.SIGKILL)  # the supervisor gets no say at all
    await asyncio.to_thread(running_stacks[0].wait, 60)
    assert await survivors(members) == []

    read_end, write_end = os.pipe()  # the terminal: it goes away, then SIGHUP comes
    running_stacks.append(spawn(STACK, stack_env, write_end))
    os.close(write_end)
    await _up_on_pipe(http, stack_env, read_end)
    os.close(read_end)
    assert await stop(running_stacks[1], signal.SIGHUP) == (0, [])

    offset = len(log.read_text(errors="replace"))
    running_stacks.append(start_stack(stack_env, log))
    await up(http, stack_env, log, offset)
    assert await stop(running_stacks[2]) == (0, [])


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
    assert f"held by pid {os.getpid()}" in log.read_text()


def test_a_port_left_in_time_wait_counts_as_free() -> None:
    """Just after a stop, the servers' accepted connections sit in TIME_WAIT for a minute."""
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    with socket.create_server(("127.0.0.1", port)) as listener:
        with pytest.raises(StackError, match="already in use"):
            check_port_free("nats", url)
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server closes first: its side of the port goes to TIME_WAIT
        client.close()
    assert _states(port) == {"TIME_WAIT"}
    check_port_free("nats", url)


def _states(port: int) -> set[str]:
    return {c.status for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port}


async def _up_on_pipe(http: ClientSession, env: dict[str, str], read_end: int) -> None:
    """Ready, reading what it prints as a terminal would (so the pipe never fills)."""
    os.set_blocking(read_end, False)
    printed = bytearray()

    async def ready() -> bool:
        with contextlib.suppress(BlockingIOError):
            printed.extend(os.read(read_end, 1 << 16))
        return b"dev token" in printed and await answers_ok(http, f"{_base(env)}/readyz")

    await eventually(ready, timeout=90, interval=0.2)


async def _listing(http: ClientSession, base: str, headers: dict[str, str]) -> Any:
    async with http.get(f"{base}/api/v1/projects", headers=headers) as response:
        return await response.json()


async def _status(
    http: ClientSession, base: str, headers: dict[str, str], project_id: str, video_id: str
) -> bool:
    """The upload is in the bucket (render may already be working on it)."""
    url = f"{base}/api/v1/projects/{project_id}/videos/{video_id}"
    async with http.get(url, headers=headers) as response:
        status = (await response.json())["status"] if response.status == 200 else None
    return status in ("stored", "rendering", "ready")
