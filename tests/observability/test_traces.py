"""One upload's W3C trace id, followed through the logs of all four services run as their own
processes and through the spans they export over OTLP; the access line of every request; a trace
id made up where the client sent none."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession, web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from deploy.servers import free_port, stop_process
from libs.settings import Settings
from tests.support import answers_ok, bearer, eventually, serving, spawn

pytestmark = pytest.mark.integration
SERVICES = ("storage", "tracking", "render", "ingest")


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.startswith("{")]


class Collector:
    """A stand-in OpenTelemetry collector: keeps the trace ids of the spans posted to it."""

    def __init__(self) -> None:
        self.trace_ids: dict[str, set[str]] = {}

    async def receive(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest.FromString(await request.read())
        for resource in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
            service = attributes["service.name"]
            spans = (span for scope in resource.scope_spans for span in scope.spans)
            self.trace_ids.setdefault(service, set()).update(s.trace_id.hex() for s in spans)
        return web.Response()


@pytest_asyncio.fixture
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    spans = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", spans.receive)
    async with serving(app) as url:
        yield spans, url


@pytest.fixture
def running(
    settings: Settings, tmp_path: Path, bucket: Any, collector: tuple[Collector, str]
) -> Iterator[tuple[str, Path]]:
    ports = {
        "otlp_endpoint": collector[1],
        "http_port": free_port(),
        "storage_health_port": free_port(),
        "tracking_health_port": free_port(),
        "render_health_port": free_port(),
    }
    settings = settings.model_copy(update=ports)
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name in SERVICES:
            started.append(spawn(f"services.{name}.main", settings, tmp_path / f"{name}.log"))
        yield f"http://127.0.0.1:{ports['http_port']}", tmp_path
    finally:
        for process in started:
            stop_process(process)


async def test_one_uploads_trace_runs_through_all_four_services(
    settings: Settings,
    running: tuple[str, Path],
    http: ClientSession,
    records_collection: Any,
    small_video: Path,
    collector: tuple[Collector, str],
) -> None:
    base, logs = running
    headers = bearer(settings, "trace-user")
    await eventually(lambda: answers_ok(http, f"{base}/readyz"), timeout=60)
    async with http.post(f"{base}/api/v1/projects", json={"name": "t"}, headers=headers) as r:
        project = (await r.json())["project_id"]
    trace_id = secrets.token_hex(16)
    traced = headers | {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    url = f"{base}/api/v1/projects/{project}/videos?filename=small.mp4"
    async with http.post(url, data=small_video.read_bytes(), headers=traced) as response:
        assert response.status == 202, await response.text()

    def carried_by() -> set[str]:
        return {n for n in SERVICES if _has_trace(log_lines(logs / f"{n}.log"), trace_id)}

    await eventually(lambda: _async(carried_by() == set(SERVICES)), timeout=90)
    for name in SERVICES:
        traced_lines = [x for x in log_lines(logs / f"{name}.log") if x.get("trace_id") == trace_id]
        assert all(len(x["span_id"]) == 16 for x in traced_lines), name
    _check_access_lines(log_lines(logs / "ingest.log"), trace_id)
    spans = collector[0]  # exported over OTLP/HTTP by every service (batched: within seconds)
    expected = {f"cliptrail-{name}" for name in SERVICES}
    await eventually(
        lambda: _async({n for n, ids in spans.trace_ids.items() if trace_id in ids} == expected),
        timeout=30,
    )


def _check_access_lines(lines: list[dict[str, Any]], trace_id: str) -> None:
    access = [x for x in lines if x.get("event") == "http_request"]
    upload = next(x for x in access if x["trace_id"] == trace_id)
    assert upload["method"] == "POST"
    assert upload["route"] == "/api/v1/projects/{project_id}/videos"
    assert upload["status"] == 202
    assert upload["bytes_in"] > 0 and upload["bytes_out"] > 0
    assert upload["duration_seconds"] >= 0 and upload["request_id"]
    assert upload["level"] == "info" and len(upload["user_hash"]) == 16
    assert "trace-user" not in json.dumps(upload)
    created = next(x for x in access if x["route"] == "/api/v1/projects" and x["status"] == 201)
    assert len(created["trace_id"]) == 32 and created["trace_id"] != trace_id  # made up here
    assert created["user_hash"] == upload["user_hash"]


def _has_trace(lines: list[dict[str, Any]], trace_id: str) -> bool:
    return any(line.get("trace_id") == trace_id for line in lines)


async def _async(value: bool) -> bool:
    return value
