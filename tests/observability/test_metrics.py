"""GET /metrics on a real stack: Prometheus text, route templates, consumer outcomes, bucket
bytes, the ledger, JetStream backlog, process metrics, and never an id in a label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families

from libs.observability.metrics import REGISTRY
from libs.settings import Settings
from tests.support import MEDIA, bearer, create_project, eventually, stack, upload

pytestmark = pytest.mark.integration
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: ClientSession, base: str) -> Samples:
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_an_upload_shows_in_the_metrics(
    settings: Settings,
    http: ClientSession,
    bucket: Any,
    records_collection: Any,
    small_video: Path,
) -> None:
    async with stack(settings) as base:
        headers = bearer(settings, "metrics-user")
        project = await create_project(http, base, headers)
        before = await scrape(http, base)
        accepted = await upload(http, base, headers, project, small_video)
        await eventually(lambda: records_collection.count_documents(MEDIA))
        async with http.get(f"{base}/no/such/{project}", headers=headers) as missing:
            assert missing.status == 404
        after = await scrape(http, base)
        text = await (await http.get(f"{base}/metrics")).text()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = "/api/v1/projects/{project_id}/videos"
    assert grew("cliptrail_http_requests_total", route=route, method="POST", status="202") == 1
    assert grew("cliptrail_http_request_duration_seconds_count", route=route, method="POST") == 1
    assert grew("cliptrail_http_requests_total", route="unmatched", method="GET", status="404")
    assert grew("cliptrail_messages_handled_total", consumer="tracking-created", outcome="ack") >= 1
    assert grew("cliptrail_message_handler_duration_seconds_count", consumer="tracking-created")
    assert grew("cliptrail_bucket_transfer_bytes_total", direction="upload") >= (
        small_video.stat().st_size
    )
    assert grew("cliptrail_ledger_records_written_total", action="upsert") >= 1
    assert (
        "cliptrail_consumer_pending_messages",
        frozenset({("consumer", "ingest-render-status")}),
    ) in (after)
    assert ("cliptrail_dead_letter_messages", frozenset()) in after
    assert value(after, "cliptrail_dependency_up", dependency="storage") == 1
    assert value(after, "process_cpu_seconds_total") > 0
    for secret in (project, accepted["video_id"], "metrics-user"):
        assert secret not in text, f"an id leaked into a label: {secret}"


async def test_every_cliptrail_metric_is_named_the_prometheus_way() -> None:
    names = {f.name: f.type for f in REGISTRY.collect() if f.name.startswith("cliptrail_")}
    assert len(names) == 19  # everything #13 asks for
    for name, kind in names.items():
        if kind == "histogram":
            assert name.endswith(("_seconds", "_bytes")), name
        if kind == "counter":
            assert not name.endswith("_total"), f"{name}: the client adds _total itself"
