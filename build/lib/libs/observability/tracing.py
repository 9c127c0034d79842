"""W3C trace context across HTTP and NATS hops, with spans from the OpenTelemetry SDK.

`configure_tracing` runs once per process (from run_main, like logging): it installs the SDK's
tracer provider, which exports over OTLP/HTTP only when an endpoint is given. Without it (tests
that build apps in-process) the API's no-op tracer still carries an incoming trace id along.
Every log line written while handling a request or message carries `trace_id` and `span_id`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import structlog
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

_tracer = trace.get_tracer("cliptrail")


def configure_tracing(service: str, otlp_endpoint: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": f"cliptrail-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def trace_headers() -> dict[str, str]:
    """The current trace context as message headers (`traceparent`, maybe `tracestate`)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def handling(headers: Mapping[str, str], name: str, kind: SpanKind) -> Iterator[Span]:
    """A span for handling one request or message, child of the trace its headers carry (a
    new trace if none), with its ids bound to every log line written meanwhile."""
    parent = propagate.extract(headers)
    with (
        _tracer.start_as_current_span(name, context=parent, kind=kind) as span,
        structlog.contextvars.bound_contextvars(**trace_fields(span)),
    ):
        yield span


def trace_fields(span: Span) -> dict[str, str]:
    ids = span.get_span_context()
    if not ids.is_valid:  # no SDK and no incoming trace: nothing to correlate
        return {}
    return {"trace_id": f"{ids.trace_id:032x}", "span_id": f"{ids.span_id:016x}"}
