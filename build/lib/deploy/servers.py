"""Starting the embedded servers and waiting until each really answers.

Shared by `make run` (deploy/stack.py) and the test fixtures, so both start the same way.
"""

from __future__ import annotations

import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from libs.settings import Settings

DEPLOY_DIR = Path(__file__).resolve().parent
PROCESSES = DEPLOY_DIR / "processes.toml"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class StackError(RuntimeError):
    """A server that cannot start; the message is the one-line reason."""


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready: str = ""
    url: str = ""


def load_processes(values: Mapping[str, str]) -> tuple[list[ProcessSpec], list[ProcessSpec]]:
    """The servers and services of processes.toml with the placeholders filled in."""
    table = tomllib.loads(PROCESSES.read_text())
    servers = [_server(entry, values) for entry in table["server"]]
    services = [
        ProcessSpec(entry["name"], [sys.executable, "-m", entry["module"]])
        for entry in table["service"]
    ]
    return servers, services


def _server(entry: Mapping[str, Any], values: Mapping[str, str]) -> ProcessSpec:
    def fill(text: object) -> str:
        return str(text).format_map(values)

    argv = [fill(arg) for arg in entry["argv"]]
    env = {k: fill(v) for k, v in dict(entry.get("env", {})).items()}
    return ProcessSpec(str(entry["name"]), argv, env, str(entry["ready"]), fill(entry["url"]))


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        raise StackError(f"{url!r} must name a host and a port")
    return parts.hostname, parts.port


def check_port_free(name: str, url: str) -> None:
    """Bind as the server will (SO_REUSEADDR): sockets in TIME_WAIT from a stop do not count."""
    host, port = host_and_port(url)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = f"{host}:{port} is already in use ({exc.strerror}){port_holder(port)}"
            raise StackError(f"{name}: {reason}") from exc


def port_holder(port: int) -> str:
    """'; held by pid N (name)' when this user may see who listens on the port, else ''."""
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                return f"; held by pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except psutil.Error:
        pass  # another user's process, or a platform that needs root for this: say nothing
    return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _nats_answers(url: str) -> bool:
    with socket.create_connection(host_and_port(url), timeout=1) as conn:
        return conn.recv(4).startswith(b"INFO")


def _http_answers(url: str) -> bool:
    conn = http.client.HTTPConnection(*host_and_port(url), timeout=1)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status > 0
    finally:
        conn.close()


def _mongodb_answers(url: str) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=1000)
    try:
        return bool(client.admin.command("ping").get("ok"))
    finally:
        client.close()


READY_CHECKS: dict[str, Callable[[str], bool]] = {
    "nats": _nats_answers,
    "http": _http_answers,
    "mongodb": _mongodb_answers,
}


def start_server(
    spec: ProcessSpec,
    log_dir: Path,
    timeout: float = 60.0,
    cancelled: Callable[[], bool] = lambda: False,
) -> subprocess.Popen[bytes]:
    """Start a server in its own session and return once it answers; StackError otherwise.

    The server gets SIGTERM if the calling thread dies, however it dies (see _die_with_parent);
    `cancelled` is polled while waiting so a stop request need not wait for the timeout.
    """
    check_port_free(spec.name, spec.url)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{spec.name}.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            spec.argv,
            env={**os.environ, **spec.env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
    try:
        wait_until_ready(spec, process, log_path, timeout, cancelled)
    except BaseException:
        stop_process(process)
        raise
    return process


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when the thread that forks it ends.

    The servers are not our code, so they cannot watch a pipe as the services do; the kernel
    signals them even when the supervisor is SIGKILLed. The signal follows the forking *thread*,
    so this is only armed on the main thread (whose end is the process's end). The hook is a
    prepared ctypes call: nothing in the forked child takes a lock another thread could hold.
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before prctl: nobody will signal us
            os._exit(1)

    return arm


def wait_until_ready(
    spec: ProcessSpec,
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout: float,
    cancelled: Callable[[], bool],
) -> None:
    deadline = time.monotonic() + timeout
    check = READY_CHECKS[spec.ready]
    while time.monotonic() < deadline:
        if cancelled():
            raise StackError(f"{spec.name}: start cancelled")
        if process.poll() is not None:
            raise StackError(
                f"{spec.name} exited with {process.returncode}: {_last_line(log_path)}"
            )
        try:
            if check(spec.url):
                return
        except (OSError, PyMongoError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise StackError(f"{spec.name} did not answer at {spec.url} within {timeout:.0f}s")


def _last_line(log_path: Path) -> str:
    lines = log_path.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no output)"


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    stop_processes([process], grace)


def stop_processes(processes: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    """SIGTERM them all at once, then SIGKILL whichever has not exited within `grace`."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def nats_config_path(settings: Settings) -> Path:
    """Where the generated NATS server config goes (deploy/natsauth.py writes it)."""
    return settings.data_dir.resolve() / "nats.conf"


def placeholder_values(settings: Settings) -> dict[str, str]:
    nats_host, nats_port = host_and_port(settings.nats_url)
    s3_host, s3_port = host_and_port(settings.r2_endpoint_url)
    mongo_host, mongo_port = host_and_port(settings.mongodb_uri)
    return {
        "bin": str(Path(sys.executable).parent),
        "deploy": str(DEPLOY_DIR),
        "data": str(settings.data_dir.resolve()),
        "nats_url": settings.nats_url,
        "nats_config": str(nats_config_path(settings)),
        "nats_host": nats_host,
        "nats_port": str(nats_port),
        "r2_endpoint_url": settings.r2_endpoint_url,
        "s3_host": s3_host,
        "s3_port": str(s3_port),
        "r2_region": settings.r2_region,
        "r2_access_key_id": settings.r2_access_key_id,
        "r2_secret_access_key": settings.r2_secret_access_key.get_secret_value(),
        "mongodb_uri": settings.mongodb_uri,
        "mongo_host": mongo_host,
        "mongo_port": str(mongo_port),
    }
