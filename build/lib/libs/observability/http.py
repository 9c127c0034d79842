"""The HTTP side of observability, for every service: GET /metrics, and one middleware that
opens the request's span, counts and times it by route template, and writes its access line."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST

from libs.observability.metrics import HTTP_REQUESTS, HTTP_SECONDS, exposition
from libs.observability.tracing import handling

log = structlog.get_logger("access")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Sampler = Callable[[], Awaitable[None]]
SAMPLERS = web.AppKey("metric_samplers", list[Sampler])
SAMPLE_TIMEOUT_SECONDS = 5.0  # above a readiness check's own 3 seconds
UNMATCHED = "unmatched"  # 404s: never the raw path, which would be an unbounded label


def instrument(app: web.Application, enabled: bool = True) -> None:
    """Serve /metrics; with `enabled`, also trace, count and log every request. Call it before
    the app starts; the middleware goes first, so it sees the final status of every answer."""
    app.setdefault(SAMPLERS, [])
    app.router.add_get("/metrics", metrics)
    if enabled:
        app.middlewares.insert(0, observe_middleware)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; JetStream figures are sampled now, so they are never stale."""
    samplers = request.app[SAMPLERS]
    await asyncio.gather(
        *(asyncio.wait_for(s(), SAMPLE_TIMEOUT_SECONDS) for s in samplers), return_exceptions=True
    )
    return web.Response(body=exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def route_of(request: web.Request) -> str:
    route = request.match_info.route
    if route.resource is None or isinstance(request.match_info.http_exception, Exception):
        return UNMATCHED
    return route.resource.canonical


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route, started = route_of(request), time.perf_counter()
    response: web.StreamResponse | None = None
    with handling(request.headers, f"{request.method} {route}", SpanKind.SERVER) as span:
        try:
            response = await handler(request)
            return response
        except web.HTTPException as exc:  # redirects and the like pass through as raised
            response = exc
            raise
        finally:
            status = response.status if response is not None else 499  # cancelled: client left
            span.set_attribute("http.response.status_code", status)
            _record(request, response, route, status, time.perf_counter() - started)


def _record(
    request: web.Request,
    response: web.StreamResponse | None,
    route: str,
    status: int,
    seconds: float,
) -> None:
    HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
    HTTP_SECONDS.labels(route, request.method).observe(seconds)
    user = structlog.contextvars.get_contextvars().get("user_id")
    structlog.contextvars.unbind_contextvars("user_id")  # the access line carries its hash only
    log.info(
        "http_request",
        method=request.method,
        route=route,
        status=status,
        bytes_in=request.content.total_bytes,
        bytes_out=_bytes_out(response),
        duration_seconds=round(seconds, 6),
        request_id=response.headers.get("X-Request-ID", "") if response is not None else "",
        user_hash=user_hash(user) if isinstance(user, str) else None,
    )


def _bytes_out(response: web.StreamResponse | None) -> int:
    """What a streamed answer wrote, or what a plain one is about to write (aiohttp sends it
    after the middleware returns)."""
    if response is None:
        return 0
    return response.body_length if response.prepared else response.content_length or 0


def user_hash(user_id: str) -> str:
    """Enough to tell one user's requests apart in the logs, without naming the user."""
    return hashlib.sha256(f"cliptrail-user:{user_id}".encode()).hexdigest()[:16]
