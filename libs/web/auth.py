"""HS256 bearer tokens: `sub` is the user id, `"role": "admin"` opens the debug routes."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from libs.errors import ProblemError
from libs.storage.keys import is_valid_id

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


def secret_is_weak(secret: str) -> bool:
    """The dev default is short; services log this once at startup instead of on every call."""
    return len(secret.encode()) < MIN_SECRET_BYTES


@dataclass(frozen=True)
class Principal:
    user_id: str
    is_admin: bool


def issue_token(secret: str, user_id: str, admin: bool = False, ttl_seconds: int = 86400) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if admin:
        claims["role"] = "admin"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail)


def authenticate(secret: str, authorization: str | None) -> Principal:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("An 'Authorization: Bearer <token>' header is required.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            claims = jwt.decode(
                token.strip(), secret, algorithms=[ALGORITHM], options={"require": ["sub"]}
            )
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"The bearer token is not valid: {exc}.") from exc
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not is_valid_id(user_id):
        raise _unauthorized("The token's subject is not a valid user id.")
    return Principal(user_id=user_id, is_admin=claims.get("role") == "admin")
