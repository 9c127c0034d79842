"""The fair-use edge: 429 with `Retry-After` for a user over their rate or their uploads at once.

It runs after authentication and keys on the user id; requests without a user (health, the
OpenAPI document) are not counted. The arithmetic is libs/web/fairuse.py; limits are per replica.

A 429 for the rate is answered after a pause (HOLD_SECONDS, idle: no CPU). A client that honours
Retry-After waits longer than that anyway; one that does not is slowed to one request per second
per connection instead of taking the event loop from everybody else. Past `max_held` requests of
one user held at once, the rest are answered without the pause (memory stays bounded).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from libs.settings import Settings
from libs.web.auth import PRINCIPAL
from libs.web.fairuse import FairUse, Rate
from libs.web.server import problem

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# How long an upload takes is unknown; a client refused one should not ask again at once.
UPLOAD_RETRY_AFTER_SECONDS = 5
HOLD_SECONDS = 1.0


def fair_use(settings: Settings) -> FairUse:
    rate = Rate(settings.rate_per_second, settings.rate_burst)
    return FairUse(rate, settings.max_concurrent_uploads)


def too_many(detail: str, wait_seconds: float) -> web.Response:
    retry_after = max(1, math.ceil(wait_seconds))
    log.debug("too_many_requests", detail=detail, retry_after=retry_after)
    response = problem(429, "Too Many Requests", detail, retry_after=retry_after)
    response.headers["Retry-After"] = str(retry_after)
    return response


def fair_use_middleware(limits: FairUse, upload_routes: frozenset[str]) -> Middleware:
    """`upload_routes`: canonical paths (as aiohttp names them) whose POSTs are uploads."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        principal = request.get(PRINCIPAL)
        if principal is None:
            return await handler(request)
        user = principal.user_id
        wait = limits.admit(user)
        if wait > 0:
            return await _held(limits, user, too_many("Too many requests; slow down.", wait))
        if not _is_upload(request, upload_routes):
            return await handler(request)
        if not limits.uploads.take(user):
            detail = f"At most {limits.uploads.limit} uploads at once per user."
            return too_many(detail, UPLOAD_RETRY_AFTER_SECONDS)
        try:
            return await handler(request)
        finally:
            limits.uploads.give_back(user)

    return middleware


async def _held(limits: FairUse, user: str, answer: web.Response) -> web.Response:
    if limits.held.take(user):
        try:
            await asyncio.sleep(HOLD_SECONDS)
        finally:
            limits.held.give_back(user)
    return answer


def _is_upload(request: web.Request, upload_routes: frozenset[str]) -> bool:
    resource = request.match_info.route.resource
    return request.method == "POST" and resource is not None and resource.canonical in upload_routes
