"""The identity provider's signing keys, from AUTH_JWKS_URL, without blocking the event loop.

PyJWT's PyJWKClient fetches (urllib, blocking) and caches the key set; a fetch runs in a thread,
one at a time. A token whose `kid` is not in the cached set makes one refetch (the provider
rotated its keys), at most once per `min_refresh_seconds` whatever tokens arrive. A key set that
cannot be fetched is the provider's outage, not the client's fault: 503, not 401.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import jwt
import structlog

from libs.errors import UnavailableError
from libs.web.auth import unauthorized

log = structlog.get_logger(__name__)
CACHE_SECONDS = 300.0
FETCH_TIMEOUT_SECONDS = 5.0


class JwksKeys:
    def __init__(
        self,
        url: str,
        min_refresh_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # cooldown 0: the refetch on an unknown kid is rate-limited here, where it is tested
        self._client = jwt.PyJWKClient(
            url, lifespan=CACHE_SECONDS, timeout=FETCH_TIMEOUT_SECONDS, cooldown_duration=0
        )
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._refreshed_at = -min_refresh_seconds
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        cache = self._client.jwk_set_cache
        cached = cache.get() if cache is not None else None
        found = _match(cached.keys if cached is not None else [], kid)
        if found is None:
            async with self._lock:  # one fetch at a time; the others then find it cached
                found = await self._look_up(kid)
        if found is None:
            raise unauthorized("The token's key id is not one of the identity provider's keys.")
        return found

    async def _look_up(self, kid: str | None) -> jwt.PyJWK | None:
        found = _match(await self._signing_keys(refresh=False), kid)
        if found is None and self._clock() - self._refreshed_at >= self._min_refresh:
            self._refreshed_at = self._clock()
            found = _match(await self._signing_keys(refresh=True), kid)
        return found

    async def _signing_keys(self, refresh: bool) -> list[jwt.PyJWK]:
        try:
            return await asyncio.to_thread(self._client.get_signing_keys, refresh)
        except (jwt.PyJWTError, ValueError) as exc:  # ValueError: not JSON at all
            log.warning("jwks_unavailable", error=str(exc))
            detail = "The identity provider's signing keys cannot be fetched."
            raise UnavailableError(detail) from exc


def _match(keys: list[jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
    signing = (key for key in keys if key.public_key_use in ("sig", None))
    return next((key for key in signing if kid is not None and key.key_id == kid), None)
