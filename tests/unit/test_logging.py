"""Secrets never reach a log line: presigned URLs lose their query string, tokens, seeds,
passwords and SecretStr values are replaced, whatever the field or however deeply nested."""

from __future__ import annotations

from typing import Any

import jwt
import structlog
from pydantic import SecretStr

from libs.logging import redact, redact_event, redact_exception
from libs.settings import Settings

SIGNATURE = "0123456789abcdef0123456789abcdef"
URL = (
    "http://127.0.0.1:9000/cliptrail/users/a/database.sqlite?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=cliptrail-dev%2F20260101%2Fauto%2Fs3%2Faws4_request"
    "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=sessiontoken123"
    f"&X-Amz-Signature={SIGNATURE}"
)
BARE = "http://127.0.0.1:9000/cliptrail/users/a/database.sqlite"
JWT = jwt.encode({"sub": "alice"}, "k" * 32, algorithm="HS256")
SEED = "SUAM" + "A" * 54  # an NKey user seed: S, U, then base32


def event(**fields: Any) -> dict[str, Any]:
    return dict(redact_event(None, "info", {"event": "x", **fields}))


def test_a_presigned_url_is_logged_without_its_query_string() -> None:
    assert redact(URL) == BARE
    assert redact(f"fetch '{URL}' failed") == f"fetch '{BARE}' failed"


def test_a_url_without_amz_parameters_keeps_its_query_string() -> None:
    text = "http://127.0.0.1:4222/x?page=2&size=10"
    assert redact(text) == text


def test_a_signature_outside_a_url_is_still_removed() -> None:
    clean = redact(f"X-Amz-Signature={SIGNATURE} and X-Amz-Credential=abc/def rest")
    assert SIGNATURE not in clean and "abc/def" not in clean
    assert clean.endswith("rest")


def test_bearer_tokens_and_bare_jwts_are_replaced() -> None:
    for text in (f"Authorization: Bearer {JWT}", f"token was {JWT}.", f"bearer {JWT}"):
        clean = redact(text)
        assert JWT not in clean and JWT.split(".")[1] not in clean, clean


def test_nkey_seeds_and_url_passwords_are_replaced() -> None:
    clean = redact(f"seed {SEED} for mongodb://cliptrail:hunter2@db:27017/x")
    assert SEED not in clean and "hunter2" not in clean
    assert "mongodb://cliptrail:REDACTED@db:27017/x" in clean


def test_text_without_secrets_is_unchanged() -> None:
    text = "users/alice/projects/p1/ X-Amz-Date=20260101 http://127.0.0.1:9000/b/k"
    assert redact(text) == text


def test_fields_named_like_secrets_are_never_logged() -> None:
    logged = event(authorization="opaque-value", nats_seed="whatever", r2_secret_access_key="x")
    assert logged["authorization"] == logged["nats_seed"] == "REDACTED"
    assert logged["r2_secret_access_key"] == "REDACTED"


def test_nested_values_and_exceptions_are_redacted() -> None:
    logged = event(
        headers={"Authorization": f"Bearer {JWT}", "Host": "h"},
        urls=[URL, (URL,)],
        error=RuntimeError(f"GET {URL} failed"),
    )
    assert logged["headers"] == {"Authorization": "REDACTED", "Host": "h"}
    assert logged["urls"] == [BARE, [BARE]]
    assert logged["error"] == f"RuntimeError: GET {BARE} failed"


def test_a_rendered_traceback_is_redacted() -> None:
    rendered = dict(redact_exception(None, "error", {"exception": f"Traceback...\nE: {URL}"}))
    assert SIGNATURE not in rendered["exception"]


def test_settings_never_show_their_secrets() -> None:
    settings = Settings(
        _env_file=None,
        auth_jwt_secret=SecretStr("jwt-secret-value-0123456789abcdef"),
        r2_secret_access_key=SecretStr("r2-secret-value"),
    )
    for shown in (repr(settings), str(settings), str(settings.model_dump())):
        assert "jwt-secret-value" not in shown and "r2-secret-value" not in shown
    line = structlog.processors.JSONRenderer()(None, "info", event(settings=settings))
    assert "jwt-secret-value" not in line and "**********" in line
