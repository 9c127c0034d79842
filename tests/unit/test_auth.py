"""Bearer tokens: HS256 with the secret, RS256/ES256 with the provider's keys; `exp` required,
`nbf`/`iat` honoured with a leeway, `iss`/`aud` when configured; `sub` is the user id."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from jwt.utils import base64url_encode
from pydantic import SecretStr

from libs.errors import ConfigError, ProblemError
from libs.settings import Settings
from libs.web.auth import (
    LEEWAY_SECONDS,
    Authenticator,
    Principal,
    TokenRules,
    issue_token,
    secret_is_weak,
    token_rules,
)
from tests.keys import SigningKey, claims, ec_key, hmac_signed, rsa_key

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256"
HS = Authenticator(TokenRules(SECRET))
RSA = rsa_key("rsa-1")
EC = ec_key("ec-1")


class StaticKeys:
    """A key set that never changes (the fetching is tested in tests/integration/test_jwks.py)."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = {key.kid: jwt.PyJWK.from_dict(key.jwk()) for key in keys}

    async def key(self, kid: str | None) -> jwt.PyJWK:
        if kid not in self.keys:
            raise ProblemError(401, "Unauthorized", "unknown kid")
        return self.keys[kid]


def signed(payload: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=algorithm)


async def assert_unauthorized(token: str, auth: Authenticator = HS) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        await auth.authenticate(f"Bearer {token}")
    assert caught.value.status == 401
    assert token not in caught.value.detail
    return caught.value


async def test_issued_token_authenticates_as_its_user() -> None:
    token = issue_token(SECRET, "alice")
    assert await HS.authenticate(f"Bearer {token}") == Principal("alice", is_admin=False)


async def test_admin_flag_round_trips() -> None:
    token = issue_token(SECRET, "root", admin=True)
    assert await HS.authenticate(f"Bearer {token}") == Principal("root", is_admin=True)


async def test_the_scheme_is_case_insensitive() -> None:
    assert (await HS.authenticate(f"bearer {issue_token(SECRET, 'alice')}")).user_id == "alice"


async def test_issued_tokens_expire_after_a_day_by_default() -> None:
    payload = jwt.decode(issue_token(SECRET, "alice"), SECRET, algorithms=["HS256"])
    assert payload["exp"] - payload["iat"] == 86400


def test_a_short_secret_cannot_sign() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        issue_token("short", "alice")
    assert secret_is_weak("x" * 31)
    assert not secret_is_weak("x" * 32)


def test_a_short_configured_secret_is_refused_with_its_length_only() -> None:
    settings = Settings(_env_file=None, auth_jwt_secret=SecretStr("0123456789"))
    with pytest.raises(ConfigError) as caught:
        token_rules(settings)
    assert "AUTH_JWT_SECRET is 10 bytes long; at least 32" in str(caught.value)
    assert "0123456789" not in str(caught.value)


def test_no_secret_and_no_key_set_is_refused() -> None:
    with pytest.raises(ConfigError, match="neither AUTH_JWT_SECRET nor AUTH_JWKS_URL"):
        token_rules(Settings(_env_file=None))


def test_a_key_set_alone_is_enough() -> None:
    settings = Settings(_env_file=None, auth_jwks_url="https://idp.example/jwks")
    assert token_rules(settings) == TokenRules("", "", "")


async def test_only_the_admin_role_makes_an_admin() -> None:
    token = signed(claims("bob", role="editor"))
    assert (await HS.authenticate(f"Bearer {token}")).is_admin is False


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Bearer    "])
async def test_missing_header_or_token_is_unauthorized(header: str | None) -> None:
    with pytest.raises(ProblemError) as caught:
        await HS.authenticate(header)
    assert caught.value.status == 401


@pytest.mark.parametrize("scheme", ["Basic", "Token", "JWT", "Bearer:"])
async def test_another_scheme_is_unauthorized(scheme: str) -> None:
    with pytest.raises(ProblemError) as caught:
        await HS.authenticate(f"{scheme} {issue_token(SECRET, 'alice')}")
    assert caught.value.status == 401


async def test_a_token_signed_with_another_secret_is_unauthorized() -> None:
    await assert_unauthorized(issue_token(OTHER_SECRET, "alice"))


async def test_a_token_without_exp_is_unauthorized() -> None:
    problem = await assert_unauthorized(signed({"sub": "alice", "iat": int(time.time())}))
    assert "exp" in problem.detail


async def test_an_expired_token_is_unauthorized() -> None:
    problem = await assert_unauthorized(issue_token(SECRET, "alice", ttl_seconds=-60))
    assert "expired" in problem.detail.lower()


async def test_a_token_expired_within_the_leeway_still_passes() -> None:
    token = signed(claims(ttl=-(LEEWAY_SECONDS // 2)))
    assert (await HS.authenticate(f"Bearer {token}")).user_id == "alice"


async def test_nbf_in_the_future_beyond_the_leeway_is_unauthorized() -> None:
    problem = await assert_unauthorized(signed(claims(nbf=int(time.time()) + 120)))
    assert "not yet valid" in problem.detail


async def test_nbf_within_the_leeway_passes() -> None:
    token = signed(claims(nbf=int(time.time()) + LEEWAY_SECONDS // 2))
    assert (await HS.authenticate(f"Bearer {token}")).user_id == "alice"


async def test_iat_in_the_future_beyond_the_leeway_is_unauthorized() -> None:
    payload = claims() | {"iat": int(time.time()) + 120}
    assert "iat" in (await assert_unauthorized(signed(payload))).detail


async def test_issuer_and_audience_are_checked_when_configured() -> None:
    auth = Authenticator(TokenRules(SECRET, issuer="https://idp", audience="cliptrail"))
    good = claims(iss="https://idp", aud="cliptrail")
    assert (await auth.authenticate(f"Bearer {signed(good)}")).user_id == "alice"
    for bad in ({"iss": "https://evil"}, {"aud": "another-api"}, {"iss": None}, {"aud": None}):
        payload = {k: v for k, v in (good | bad).items() if v is not None}
        await assert_unauthorized(signed(payload), auth)


async def test_issuer_and_audience_are_not_checked_when_not_configured() -> None:
    token = signed(claims(iss="https://anyone", aud="anything"))
    assert (await HS.authenticate(f"Bearer {token}")).user_id == "alice"


async def test_a_token_without_sub_is_unauthorized() -> None:
    await assert_unauthorized(signed({"exp": int(time.time()) + 600, "role": "admin"}))


@pytest.mark.parametrize("sub", ["../x", "", "a/b", "x" * 65, "ünï", 42, None])
async def test_a_sub_that_is_not_a_valid_user_id_is_unauthorized(sub: object) -> None:
    await assert_unauthorized(signed(claims() | {"sub": sub}))


async def test_alg_none_is_unauthorized() -> None:
    unsigned = jwt.encode(claims(role="admin"), "", algorithm="none")
    await assert_unauthorized(unsigned)
    await assert_unauthorized(unsigned, Authenticator(TokenRules(SECRET), StaticKeys(RSA)))


async def test_another_hmac_algorithm_with_the_right_secret_is_unauthorized() -> None:
    secret = "k" * 64
    await assert_unauthorized(signed(claims(), secret, "HS512"), Authenticator(TokenRules(secret)))


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "....", "Bearer x"])
async def test_garbage_tokens_are_unauthorized(garbage: str) -> None:
    await assert_unauthorized(garbage)


async def test_a_tampered_payload_is_unauthorized() -> None:
    header, _payload, signature = issue_token(SECRET, "alice").split(".")
    forged = base64url_encode(b'{"sub":"bob","role":"admin"}').decode()
    await assert_unauthorized(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
async def test_tokens_from_the_key_set_pass(key: SigningKey) -> None:
    auth = Authenticator(TokenRules(), StaticKeys(RSA, EC))
    assert (await auth.authenticate(f"Bearer {key.sign(claims('carol'))}")).user_id == "carol"


async def test_the_claims_rules_hold_for_key_set_tokens_too() -> None:
    auth = Authenticator(TokenRules(audience="cliptrail"), StaticKeys(RSA))
    await assert_unauthorized(RSA.sign({"sub": "alice"}), auth)
    await assert_unauthorized(RSA.sign(claims(aud="another-api")), auth)


async def test_key_set_tokens_without_a_key_set_are_unauthorized() -> None:
    await assert_unauthorized(RSA.sign(claims()))


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """Algorithm confusion: the public key is public, so it must never work as an HMAC secret."""
    for key in (RSA, EC):
        forged = hmac_signed(claims(role="admin"), key.public_pem(), kid=key.kid)
        await assert_unauthorized(forged, Authenticator(TokenRules(), StaticKeys(RSA, EC)))
        await assert_unauthorized(forged, Authenticator(TokenRules(SECRET), StaticKeys(RSA, EC)))


async def test_an_alg_that_does_not_match_the_key_is_unauthorized() -> None:
    """A header saying RS256 with the kid of the ES256 key."""
    token = jwt.encode(claims(), RSA.private, "RS256", headers={"kid": EC.kid})
    await assert_unauthorized(token, Authenticator(TokenRules(), StaticKeys(RSA, EC)))


async def test_an_hs256_token_is_refused_when_only_a_key_set_is_configured() -> None:
    await assert_unauthorized(
        issue_token(SECRET, "alice"), Authenticator(TokenRules(), StaticKeys(RSA))
    )
