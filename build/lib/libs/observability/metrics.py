"""Every metric cliptrail exports, on one registry per process (served at GET /metrics).

Metric objects are process facts, like the logging configuration: one process runs one service,
and the default process metrics are process-wide anyway. So they live on this module's own
registry (not prometheus-client's global default one), and no constructor has to carry them.
Labels are bounded: routes are templates, consumers are durable names; never a user, project or
video id. Tests read deltas, so several services in one test process do not disturb them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

_SLOW = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def _counter(name: str, doc: str, *labels: str) -> Counter:
    return Counter(f"cliptrail_{name}", doc, labels, registry=REGISTRY)


def _gauge(name: str, doc: str, *labels: str) -> Gauge:
    return Gauge(f"cliptrail_{name}", doc, labels, registry=REGISTRY)


def _histogram(name: str, doc: str, *labels: str) -> Histogram:
    return Histogram(f"cliptrail_{name}", doc, labels, registry=REGISTRY, buckets=_SLOW)


HTTP_REQUESTS = _counter("http_requests", "HTTP requests answered", "route", "method", "status")
HTTP_SECONDS = _histogram(
    "http_request_duration_seconds", "HTTP request latency", "route", "method"
)
MESSAGES = _counter("messages_handled", "Messages settled by a consumer", "consumer", "outcome")
HANDLER_SECONDS = _histogram(
    "message_handler_duration_seconds", "Time a consumer's handler took", "consumer"
)
CONSUMER_PENDING = _gauge(
    "consumer_pending_messages", "Messages not yet delivered (JetStream)", "consumer"
)
CONSUMER_ACK_PENDING = _gauge(
    "consumer_ack_pending_messages", "Messages delivered, not yet acked (JetStream)", "consumer"
)
CONSUMER_REDELIVERED = _gauge(
    "consumer_redelivered_messages", "Messages being redelivered (JetStream)", "consumer"
)
DEAD_LETTERS = _gauge("dead_letter_messages", "Messages in the dead-letter stream")
BUCKET_BYTES = _counter(
    "bucket_transfer_bytes", "Bytes moved to (upload) or from (download) the bucket", "direction"
)
BUCKET_SECONDS = _histogram(
    "bucket_transfer_duration_seconds", "Time of one transfer to or from the bucket", "direction"
)
MULTIPART_IN_FLIGHT = _gauge("multipart_parts_in_flight", "Multipart parts being uploaded")
RENDERS = _counter("renders", "Render jobs finished", "outcome")
ENCODE_SECONDS = _histogram("render_encode_duration_seconds", "One clip's encode", "style")
LEDGER_WRITES = _counter("ledger_records_written", "Ledger records written", "action")
CLEANUP_DELETED = _counter("cleanup_objects_deleted", "Objects deleted by project cleanups")
RECONCILE_ORPHANS = _gauge("reconcile_orphans", "Objects without a record, last reconcile")
RECONCILE_GHOSTS = _gauge("reconcile_ghosts", "Records without an object, last reconcile")
DEPENDENCY_UP = _gauge(
    "dependency_up", "1 while a readiness check answers (sampled at scrape)", "dependency"
)
CATALOG_CONFLICTS = _counter(
    "catalog_sync_conflicts", "Catalog writes that lost a conditional write and were merged"
)


class Moved:
    """The bytes one transfer has moved so far."""

    def __init__(self) -> None:
        self.bytes = 0


@contextmanager
def timed_transfer(direction: str) -> Iterator[Moved]:
    """Count a transfer's bytes (as the caller adds them) and its seconds, once it succeeds."""
    started, moved = time.perf_counter(), Moved()
    yield moved
    BUCKET_SECONDS.labels(direction).observe(time.perf_counter() - started)
    BUCKET_BYTES.labels(direction).inc(moved.bytes)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
