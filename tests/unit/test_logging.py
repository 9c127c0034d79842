"""Presigned URLs may be logged; their signatures and credentials never."""

from __future__ import annotations

from libs.logging import redact

URL = (
    "http://127.0.0.1:9000/cliptrail/users/a/database.sqlite?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=cliptrail-dev%2F20260101%2Fauto%2Fs3%2Faws4_request"
    "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=sessiontoken123"
    "&X-Amz-Signature=0123456789abcdef0123456789abcdef"
)


def test_signature_credential_and_token_values_are_removed() -> None:
    clean = redact(URL)
    for secret in ("0123456789abcdef", "cliptrail-dev%2F", "sessiontoken123"):
        assert secret not in clean
    assert "X-Amz-Signature=REDACTED" in clean
    assert "X-Amz-Credential=REDACTED" in clean
    assert "X-Amz-Security-Token=REDACTED" in clean


def test_the_rest_of_the_url_is_kept() -> None:
    clean = redact(URL)
    assert clean.startswith("http://127.0.0.1:9000/cliptrail/users/a/database.sqlite?")
    assert "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&" in clean


def test_redaction_stops_at_quotes_and_whitespace() -> None:
    text = f"fetch '{URL}' failed; X-Amz-Signature=abc def"
    clean = redact(text)
    assert clean.endswith("' failed; X-Amz-Signature=REDACTED def")
    assert "abc" not in clean


def test_text_without_signatures_is_unchanged() -> None:
    text = "users/alice/projects/p1/ X-Amz-Date=20260101"
    assert redact(text) == text
