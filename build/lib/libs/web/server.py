"""What every service's HTTP edge shares: problem+json, request ids, health, serving."""

from __future__ import annotations

import asyncio
import re
import signal
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from libs.errors import CliptrailError, ProblemError
from libs.observability.http import SAMPLERS, Sampler, instrument
from libs.observability.metrics import DEPENDENCY_UP
from libs.web.bounds import app_runner, oversized

log = structlog.get_logger(__name__)
PROBLEM_JSON = "application/problem+json"
_REQUEST_ID = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z")
Check = Callable[[], Awaitable[None]]
CHECK_TIMEOUT_SECONDS = 3.0
CHECKS = web.AppKey("checks", Mapping[str, Check])
RETRY_AFTER_SECONDS = 5
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Translate = Callable[[CliptrailError], ProblemError | None]


def problem(status: int, title: str, detail: str = "", **extra: Any) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = web.json_response(body, status=status, content_type=PROBLEM_JSON)
    if status == 503:  # what is down is usually back soon: tell clients when to try again
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def problem_middleware(translate: Translate | None = None) -> Middleware:
    """Every error answered as problem+json, with a request id. `translate` is the edge's own
    mapping of the domain's refusals; what it does not know is a 503 (a backing service) or,
    for a bug, a 500."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = _request_id(request)
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            response = await _answer(request, handler, translate)
        response.headers["X-Request-ID"] = request_id
        return response

    return middleware


def _refused(exc: ProblemError) -> web.Response:
    log.info("request_refused", status=exc.status, title=exc.title, detail=exc.detail)
    return problem(exc.status, exc.title, exc.detail, **exc.extra)


async def _answer(
    request: web.Request, handler: Handler, translate: Translate | None
) -> web.StreamResponse:
    try:
        if (refusal := oversized(request)) is not None:
            return _refused(refusal)
        return await handler(request)
    except ProblemError as exc:
        return _refused(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_problem(exc)
    except CliptrailError as exc:
        translated = translate(exc) if translate else None
        if translated is not None:
            return _refused(translated)
        log.warning("dependency_unavailable", error=str(exc))
        return problem(503, "Service Unavailable", "A backing service did not answer.")
    except Exception:
        log.exception("unhandled_error")
        return problem(500, "Internal Server Error", "An unexpected error was logged.")


def _http_problem(exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (no route, a body past client_max_size), as problems."""
    if not isinstance(exc, web.HTTPMethodNotAllowed):
        return problem(exc.status, exc.reason, exc.text or "")
    allowed = sorted(exc.allowed_methods)
    detail = f"Allowed: {', '.join(allowed)}."
    response = problem(405, exc.reason, detail, allowed_methods=allowed)
    response.headers["Allow"] = ", ".join(allowed)
    return response


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks = request.app[CHECKS]
    failing = await failing_checks(checks)
    if failing:
        detail = "Not answering: " + ", ".join(sorted(failing))
        return problem(503, "Service Unavailable", detail, failing=failing)
    return web.json_response({"status": "ready", "checks": sorted(checks)})


async def failing_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    async def run(check: Check) -> str | None:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        return None

    results = await asyncio.gather(*(run(check) for check in checks.values()))
    return {name: error for name, error in zip(checks, results, strict=True) if error}


def add_health_routes(
    app: web.Application, checks: Mapping[str, Check], telemetry: bool = True
) -> None:
    """/healthz, /readyz and /metrics on one port; with `telemetry`, every request is traced,
    counted and logged (libs/observability/http.py)."""
    app[CHECKS] = checks
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    instrument(app, telemetry)
    app[SAMPLERS].append(readiness_sampler(checks))


def readiness_sampler(checks: Mapping[str, Check]) -> Sampler:
    """At scrape time: which of the readiness checks answer (storage not answering, say)."""

    async def sample() -> None:
        failing = await failing_checks(checks)
        for name in checks:
            DEPENDENCY_UP.labels(name).set(0 if name in failing else 1)

    return sample


async def serve_until_signal(app: web.Application, host: str, port: int) -> None:
    """Run the app until SIGINT or SIGTERM, then clean up (cleanup_ctx closes resources)."""
    runner = app_runner(app, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("serving", host=host, port=port)
        await stop.wait()
    finally:
        await runner.cleanup()
