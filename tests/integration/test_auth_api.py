"""Tokens at the real HTTP edge: RS256/ES256 from a JWKS document served on a real socket (keys
rotated while ingest runs), HS256 with the secret, 401 bodies that never echo the token, a
provider that is down (503), and a short secret that stops ingest at startup."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import ClientSession, web

from libs.settings import Settings
from libs.web.auth import issue_token
from tests.keys import SigningKey, claims, ec_key, hmac_signed, key_set, rsa_key
from tests.support import eventually, ingest, serving, settings_env

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Provider:
    """An identity provider's JWKS endpoint: what it publishes can change, it can go down."""

    keys: list[SigningKey]
    hits: int = 0
    up: bool = True
    url: str = ""

    async def jwks(self, _request: web.Request) -> web.Response:
        self.hits += 1
        if not self.up:
            return web.Response(status=502, text="bad gateway")
        return web.json_response(key_set(*self.keys))


@contextlib.asynccontextmanager
async def provider(keys: list[SigningKey]) -> AsyncIterator[Provider]:
    idp = Provider(keys)
    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", idp.jwks)
    async with serving(app) as base:
        idp.url = f"{base}/.well-known/jwks.json"
        yield idp


@contextlib.asynccontextmanager
async def ingest_with_provider(
    settings: Settings, keys: list[SigningKey], min_refresh: float
) -> AsyncIterator[tuple[Provider, str]]:
    """Ingest (its own catalog only: no storage needed) checking tokens against `provider`."""
    async with provider(keys) as idp:
        update = {"auth_jwks_url": idp.url, "auth_jwks_min_refresh_seconds": min_refresh}
        async with ingest(settings.model_copy(update=update | {"catalog_sync": False})) as base:
            yield idp, base


async def status_of(http: ClientSession, base: str, token: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{base}/api/v1/projects", headers=headers) as response:
        return response.status, await response.text()


@pytest.fixture(scope="module")
def first_keys() -> list[SigningKey]:
    return [rsa_key("rsa-1"), ec_key("ec-1")]


async def test_rs256_and_es256_pass_and_rotated_keys_work_without_a_restart(
    settings: Settings, http: ClientSession, first_keys: list[SigningKey]
) -> None:
    async with ingest_with_provider(settings, first_keys, min_refresh=0.2) as (idp, base):
        for key in first_keys:
            assert (await status_of(http, base, key.sign(claims("carol"))))[0] == 200
        rotated = [rsa_key("rsa-2"), ec_key("ec-2")]
        idp.keys = rotated  # the provider rotates: old keys gone, new kids
        for key in rotated:
            token = key.sign(claims("carol"))
            await eventually(functools.partial(_is_ok, http, base, token), timeout=10)
    assert idp.hits >= 2  # at least one refetch: no restart, no waiting for the cache to expire


async def _is_ok(http: ClientSession, base: str, token: str) -> bool:
    return (await status_of(http, base, token))[0] == 200


async def test_unknown_kids_refetch_the_key_set_at_most_once_per_interval(
    settings: Settings, http: ClientSession, first_keys: list[SigningKey]
) -> None:
    async with ingest_with_provider(settings, first_keys, min_refresh=600) as (idp, base):
        assert (await status_of(http, base, first_keys[0].sign(claims())))[0] == 200
        tokens = [ec_key(f"unknown-{n}").sign(claims()) for n in range(20)]
        statuses = await asyncio.gather(*(status_of(http, base, t) for t in tokens))
    assert {status for status, _ in statuses} == {401}
    assert idp.hits == 2  # the first fetch, then one refetch for all those unknown kids


async def test_a_provider_that_is_down_is_503_not_401_and_hs256_still_works(
    settings: Settings, http: ClientSession, first_keys: list[SigningKey]
) -> None:
    async with ingest_with_provider(settings, first_keys, min_refresh=0.2) as (idp, base):
        idp.up = False
        token = first_keys[0].sign(claims())
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{base}/api/v1/projects", headers=headers) as response:
            assert response.status == 503
            assert response.headers["Retry-After"].isdigit()
            body = await response.text()
        hs = issue_token(settings.auth_jwt_secret.get_secret_value(), "alice")
        assert (await status_of(http, base, hs))[0] == 200
        idp.up = True
        assert (await status_of(http, base, token))[0] == 200  # back: no restart needed
    assert token not in body


async def test_hs256_signed_with_the_providers_public_key_is_401(
    settings: Settings, http: ClientSession, first_keys: list[SigningKey]
) -> None:
    async with ingest_with_provider(settings, first_keys, min_refresh=0.2) as (_idp, base):
        for key in first_keys:
            forged = hmac_signed(claims(role="admin"), key.public_pem(), kid=key.kid)
            assert (await status_of(http, base, forged))[0] == 401


@pytest.mark.parametrize(
    "payload",
    [{"sub": "alice"}, claims(ttl=-3600), claims(nbf=2**31), claims(iat=2**31)],
    ids=["no-exp", "expired", "nbf-future", "iat-future"],
)
async def test_a_401_body_never_echoes_the_token(
    settings: Settings, http: ClientSession, payload: dict[str, Any]
) -> None:
    secret = settings.auth_jwt_secret.get_secret_value()
    token = jwt.encode(payload, secret, algorithm="HS256")
    async with ingest(settings.model_copy(update={"catalog_sync": False})) as base:
        status, body = await status_of(http, base, token)
    assert status == 401
    assert json.loads(body)["status"] == 401
    for part in (token, *token.split(".")):
        assert part not in body


async def test_a_short_secret_stops_ingest_at_startup_with_one_clear_line(
    settings: Settings,
) -> None:
    short = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        **settings_env(settings),
        "AUTH_JWT_SECRET": short,
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.ingest.main", env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 1
    assert len(lines) == 1, lines
    assert "AUTH_JWT_SECRET is 10 bytes long; at least 32" in lines[0]
    assert short not in stdout.decode() + stderr.decode()
