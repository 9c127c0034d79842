"""Bearer tokens: HS256, `sub` is the user id, `"role": "admin"` is the admin flag."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from jwt.utils import base64url_encode

from libs.errors import ProblemError
from libs.web.auth import Principal, authenticate, issue_token, secret_is_weak

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256"


def signed(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def future() -> int:
    return int(time.time()) + 600


def assert_unauthorized(header: str | None) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        authenticate(SECRET, header)
    assert caught.value.status == 401
    return caught.value


def test_issued_token_authenticates_as_its_user() -> None:
    token = issue_token(SECRET, "alice")
    assert authenticate(SECRET, f"Bearer {token}") == Principal("alice", is_admin=False)


def test_admin_flag_round_trips() -> None:
    token = issue_token(SECRET, "root", admin=True)
    assert authenticate(SECRET, f"Bearer {token}") == Principal("root", is_admin=True)
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["role"] == "admin"


def test_the_scheme_is_case_insensitive() -> None:
    token = issue_token(SECRET, "alice")
    assert authenticate(SECRET, f"bearer {token}").user_id == "alice"


def test_a_short_dev_secret_still_works_without_warnings() -> None:
    token = issue_token("short", "alice")
    assert authenticate("short", f"Bearer {token}").user_id == "alice"
    assert secret_is_weak("short")
    assert not secret_is_weak(SECRET)


def test_only_the_admin_role_makes_an_admin() -> None:
    token = signed({"sub": "bob", "role": "editor", "exp": future()})
    assert authenticate(SECRET, f"Bearer {token}").is_admin is False


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Bearer    "])
def test_missing_header_or_token_is_unauthorized(header: str | None) -> None:
    assert_unauthorized(header)


@pytest.mark.parametrize("scheme", ["Basic", "Token", "JWT", "Bearer:"])
def test_another_scheme_is_unauthorized(scheme: str) -> None:
    assert_unauthorized(f"{scheme} {issue_token(SECRET, 'alice')}")


def test_a_token_signed_with_another_secret_is_unauthorized() -> None:
    assert_unauthorized(f"Bearer {issue_token(OTHER_SECRET, 'alice')}")


def test_an_expired_token_is_unauthorized() -> None:
    problem = assert_unauthorized(f"Bearer {issue_token(SECRET, 'alice', ttl_seconds=-60)}")
    assert "expired" in problem.detail.lower()


def test_a_token_without_sub_is_unauthorized() -> None:
    assert_unauthorized(f"Bearer {signed({'exp': future(), 'role': 'admin'})}")


@pytest.mark.parametrize("sub", ["../x", "", "a/b", "x" * 65, "ünï", 42, None])
def test_a_sub_that_is_not_a_valid_user_id_is_unauthorized(sub: object) -> None:
    assert_unauthorized(f"Bearer {signed({'sub': sub, 'exp': future()})}")


def test_alg_none_is_unauthorized() -> None:
    unsigned = jwt.encode({"sub": "alice", "role": "admin"}, "", algorithm="none")
    assert_unauthorized(f"Bearer {unsigned}")


def test_another_hmac_algorithm_with_the_right_secret_is_unauthorized() -> None:
    secret = "k" * 64
    token = signed({"sub": "alice", "exp": future()}, secret, "HS512")
    with pytest.raises(ProblemError) as caught:
        authenticate(secret, f"Bearer {token}")
    assert caught.value.status == 401


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "....", "Bearer x"])
def test_garbage_tokens_are_unauthorized(garbage: str) -> None:
    assert_unauthorized(f"Bearer {garbage}")


def test_a_tampered_payload_is_unauthorized() -> None:
    header, _payload, signature = issue_token(SECRET, "alice").split(".")
    forged = base64url_encode(b'{"sub":"bob","role":"admin"}').decode()
    assert_unauthorized(f"Bearer {header}.{forged}.{signature}")
