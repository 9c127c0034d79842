"""What the benchmarks share: the scale, a result row, and the real stack on free ports.

Every benchmark starts its own servers (nats-server, nanio, SecantusDB) and services as their
own processes, and compares what cliptrail does with a baseline run side by side on the same
servers (an `anchor`: s5cmd, a raw MongoDB call, the same ffmpeg commands in a loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from deploy.natsauth import write_server_config
from deploy.servers import (
    ProcessSpec,
    free_port,
    load_processes,
    nats_config_path,
    placeholder_values,
    start_server,
    stop_process,
)
from libs.messaging.permissions import ADMIN, seed_file
from libs.runtime.wiring import ensure_streams
from libs.settings import Settings
from libs.web.auth import issue_token
from tests.support import settings_env, spawn

SERVICES = ("services.storage.main", "services.tracking.main", "services.ingest.main")


@dataclass(frozen=True)
class Scale:
    """How big each benchmark runs; `default` fits `make bench` in 10 minutes on 2 cores."""

    name: str
    upload_mib: int
    delete_objects: int
    naive_sample: int
    events: int
    render_seconds: int

    @staticmethod
    def named(name: str) -> Scale:
        if name == "full":
            return Scale("full", 1024, 10_000, 200, 10_000, 60)
        if name == "default":
            return Scale("default", 256, 10_000, 200, 10_000, 18)
        raise SystemExit(f"bench: BENCH_SCALE must be default or full, not {name!r}")


@dataclass(frozen=True)
class Row:
    """One measured figure; with an anchor, `ratio` is value / anchor_value."""

    what: str
    value: float
    unit: str
    anchor: str = ""
    anchor_value: float | None = None
    at_most: float | None = None  # the target for the ratio, if it has one
    at_least: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.anchor_value if self.anchor_value else None

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        if ratio is None or (self.at_most is None and self.at_least is None):
            return None
        return (self.at_most is None or ratio <= self.at_most) and (
            self.at_least is None or ratio >= self.at_least
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what, "value": round(self.value, 3), "unit": self.unit,
            "anchor": self.anchor, "anchor_value": _rounded(self.anchor_value),
            "ratio": _rounded(self.ratio), "target": self.target, "met": self.met,
            "note": self.note,
        }  # fmt: skip

    @property
    def target(self) -> str:
        if self.at_most is not None:
            return f"<= {self.at_most:g}"
        return f">= {self.at_least:g}" if self.at_least is not None else ""


def _rounded(number: float | None) -> float | None:
    return None if number is None else round(number, 3)


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: what, value, anchor, ratio (with its target and whether it was met)."""
    lines = ["| what | value | anchor | ratio |", "|---|---|---|---|"]
    for row in rows:
        anchor = row["anchor"] and f"{row['anchor']}: {_figure(row['anchor_value'], row['unit'])}"
        lines.append(
            f"| {row['what']} | {_figure(row['value'], row['unit'])} | {anchor} | {_ratio(row)} |"
        )
    return lines


def _figure(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.2f} {unit}"


def _ratio(row: dict[str, Any]) -> str:
    if row["ratio"] is None:
        return ""
    verdict = {True: " met", False: " **missed**", None: ""}[row["met"]]
    target = f" (target {row['target']}{verdict})" if row["target"] else ""
    return f"**{row['ratio']:.2f}x**{target}"


def bench_settings(root: Path, **changes: Any) -> Settings:
    return Settings(
        _env_file=None,
        nats_url=f"nats://127.0.0.1:{free_port()}",
        r2_endpoint_url=f"http://127.0.0.1:{free_port()}",
        mongodb_uri=f"mongodb://127.0.0.1:{free_port()}",
        data_dir=root / "data",
        nats_nkey_seed_file=seed_file(root / "data" / "secrets", ADMIN),  # the operator's key
        http_port=free_port(),
        storage_health_port=free_port(),
        tracking_health_port=free_port(),
        render_health_port=free_port(),
        log_level="warning",
        auth_jwt_secret=SecretStr(secrets.token_urlsafe(32)),
        rate_per_second=0,  # a benchmark measures throughput, not the fair-use limit
        **changes,
    )


def bearer(settings: Settings, user: str) -> dict[str, str]:
    token = issue_token(settings.auth_jwt_secret.get_secret_value(), user)
    return {"Authorization": f"Bearer {token}"}


async def wait_healthy(http: aiohttp.ClientSession, url: str) -> None:
    await until_works(lambda: _is_ok(http, url), url)


async def _is_ok(http: aiohttp.ClientSession, url: str) -> bool:
    async with http.get(url) as response:
        return response.status == 200


async def until_works(attempt: Callable[[], Awaitable[Any]], what: str, seconds: float = 60) -> Any:
    """Repeat `attempt` until it returns something truthy (errors count as not yet), bounded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, AssertionError, OSError):
            if result := await attempt():
                return result
        await asyncio.sleep(0.1)
    raise SystemExit(f"bench: {what} did not answer within {seconds:g} s")


async def create_project(settings: Settings, user: str, name: str = "bench") -> str:
    """A project through ingest, once ingest is ready and storage answers (a real request
    that needs both: the catalog sync goes through storage)."""
    base = f"http://127.0.0.1:{settings.http_port}"

    async def attempt() -> str | None:
        url = f"{base}/api/v1/projects"
        async with http.post(url, json={"name": name}, headers=bearer(settings, user)) as r:
            return str((await r.json())["project_id"]) if r.status == 201 else None

    async with aiohttp.ClientSession() as http:
        await wait_healthy(http, f"{base}/readyz")
        project: str = await until_works(attempt, "creating a project through ingest")
        return project


def s5cmd(settings: Settings, *args: str, endpoint: str = "") -> float:
    """Run s5cmd against the bench's object store (or `endpoint`); return its wall time."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": settings.r2_access_key_id,
        "AWS_SECRET_ACCESS_KEY": settings.r2_secret_access_key.get_secret_value(),
        "AWS_REGION": settings.r2_region,
    }
    binary = str(Path(sys.executable).parent / "s5cmd")
    started = time.perf_counter()
    subprocess.run(
        [binary, "--endpoint-url", endpoint or settings.r2_endpoint_url, *args],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


@dataclass
class Stack:
    """The running servers and services; a service can be restarted with other settings."""

    root: Path
    servers: list[subprocess.Popen[bytes]]
    services: dict[str, subprocess.Popen[bytes]]

    def start(self, module: str, settings: Settings, name: str = "") -> None:
        """`python -m module` with these settings, known as `name` (the module by default)."""
        self.services[name or module] = spawn(module, settings, self.root / "services.log")

    def restart(self, module: str, settings: Settings) -> None:
        stop_process(self.services.pop(module))
        self.start(module, settings)


def _spread(spec: ProcessSpec) -> ProcessSpec:
    """nanio with a worker per core: R2 is many machines, and one nanio process on one core
    would make the object store the bottleneck of cliptrail and of every baseline alike."""
    if spec.name != "objectstore":
        return spec
    return replace(spec, argv=[*spec.argv, "--workers", str(os.cpu_count() or 1)])


@contextlib.contextmanager
def system(settings: Settings, root: Path, modules: tuple[str, ...] = SERVICES) -> Iterator[Stack]:
    """The real servers and the services' processes, stopped at the end."""
    write_server_config(nats_config_path(settings), settings.secrets_dir, settings.nats_prefix)
    specs, _ = load_processes(placeholder_values(settings))
    stack = Stack(root, [start_server(_spread(spec), root / "logs") for spec in specs], {})
    asyncio.run(ensure_streams(settings))  # as make run's bootstrap does
    os.environ.update(settings_env(settings))
    try:
        for module in modules:
            stack.start(module, settings)
        yield stack
    finally:
        for process in [*reversed(stack.services.values()), *reversed(stack.servers)]:
            stop_process(process)
