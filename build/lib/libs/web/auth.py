"""Bearer tokens: HS256 with AUTH_JWT_SECRET, RS256/ES256 with an identity provider's keys.

`sub` is the user id, `exp` is required, `"role": "admin"` opens the debug routes. The token's
`alg` picks the key: HS256 only with a configured secret, RS256/ES256 only from AUTH_JWKS_URL,
anything else is refused (so a token signed with a public key as an HMAC secret never passes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from aiohttp import web

from libs.errors import ConfigError, ProblemError
from libs.settings import Settings
from libs.storage.keys import is_valid_id

HMAC_ALGORITHM = "HS256"
KEY_SET_ALGORITHMS = frozenset({"RS256", "ES256"})
MIN_SECRET_BYTES = 32
# Clocks of the identity provider and of ingest may differ by this much (exp, nbf, iat).
LEEWAY_SECONDS = 30


def secret_is_weak(secret: str) -> bool:
    return len(secret.encode()) < MIN_SECRET_BYTES


@dataclass(frozen=True)
class Principal:
    user_id: str
    is_admin: bool


PRINCIPAL = web.RequestKey("principal", Principal)


class KeySet(Protocol):
    """The identity provider's public keys (libs/web/jwks.py)."""

    async def key(self, kid: str | None) -> jwt.PyJWK: ...


@dataclass(frozen=True)
class TokenRules:
    secret: str = ""  # empty: HS256 tokens are not accepted
    issuer: str = ""  # empty: `iss` is not checked
    audience: str = ""  # empty: `aud` is not checked
    leeway_seconds: int = LEEWAY_SECONDS


def token_rules(settings: Settings) -> TokenRules:
    """The rules from settings; a short secret, or no way at all to check a token, is refused."""
    secret = settings.auth_jwt_secret.get_secret_value()
    if secret and secret_is_weak(secret):
        raise ConfigError(
            f"AUTH_JWT_SECRET is {len(secret.encode())} bytes long; at least {MIN_SECRET_BYTES}"
            " random bytes are required (unset, `make run` generates one)"
        )
    if not secret and not settings.auth_jwks_url:
        raise ConfigError("neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is set: no token can pass")
    return TokenRules(secret, settings.auth_jwt_issuer, settings.auth_jwt_audience)


def issue_token(secret: str, user_id: str, admin: bool = False, ttl_seconds: int = 86400) -> str:
    if secret_is_weak(secret):
        raise ValueError(f"an HS256 secret needs at least {MIN_SECRET_BYTES} bytes")
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if admin:
        claims["role"] = "admin"
    return jwt.encode(claims, secret, algorithm=HMAC_ALGORITHM)


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail)


class Authenticator:
    def __init__(self, rules: TokenRules, keys: KeySet | None = None) -> None:
        self.rules = rules
        self.keys = keys

    async def authenticate(self, authorization: str | None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("An 'Authorization: Bearer <token>' header is required.")
        return principal_of(self._decode(token, await self._key_for(token)))

    async def _key_for(self, token: str) -> str | jwt.PyJWK:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthorized(f"The bearer token is not valid: {exc}.") from exc
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm == HMAC_ALGORITHM and self.rules.secret:
            return self.rules.secret
        if algorithm in KEY_SET_ALGORITHMS and self.keys is not None:
            return await self.keys.key(kid if isinstance(kid, str) else None)
        raise unauthorized(f"Tokens signed with {str(algorithm)[:16]!r} are not accepted here.")

    def _decode(self, token: str, key: str | jwt.PyJWK) -> dict[str, Any]:
        rules = self.rules
        algorithms = [HMAC_ALGORITHM] if isinstance(key, str) else [key.algorithm_name]
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=rules.issuer or None,
                audience=rules.audience or None,
                leeway=rules.leeway_seconds,
                options={"require": ["sub", "exp"], "verify_aud": bool(rules.audience)},
            )
        except jwt.PyJWTError as exc:
            raise unauthorized(f"The bearer token is not valid: {exc}.") from exc
        return claims


def principal_of(claims: dict[str, Any]) -> Principal:
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not is_valid_id(user_id):
        raise unauthorized("The token's subject is not a valid user id.")
    return Principal(user_id=user_id, is_admin=claims.get("role") == "admin")
