"""structlog, configured once per process: JSON outside a terminal, pretty inside one."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# A presigned URL (its query string has X-Amz-*): logged without any query string at all.
_PRESIGNED_URL = re.compile(
    r"""(\b[a-z][a-z0-9+.-]*://[^\s?#"'<>]*)\?[^\s"'<>]*X-Amz-[^\s"'<>]*""", re.IGNORECASE
)
# What is left: a signature or credential outside a URL, a bearer token, a JWT, an NKey seed
# (S + key type + base32), a password in a URL's user info.
_SECRETS = (
    (re.compile(r"(X-Amz-(?:Signature|Credential|Security-Token))=[^&\s\"']+"), r"\1=REDACTED"),
    (re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]+", re.I), r"\1 REDACTED"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "REDACTED-JWT"),
    (re.compile(r"\bS[UANOCPX][A-Z2-7]{56}\b"), "REDACTED-SEED"),
    (re.compile(r"(://[^\s/:@\"']+):[^\s/@\"']+@"), r"\1:REDACTED@"),
)
# Values under these names are never logged, whatever they look like.
_SECRET_NAMES = re.compile(r"authorization|token|secret|password|passwd|seed|credential", re.I)
REDACTED = "REDACTED"


def redact(value: str) -> str:
    """Text with presigned URLs cut at their query string and every secret it holds replaced."""
    value = _PRESIGNED_URL.sub(r"\1", value)
    for pattern, replacement in _SECRETS:
        value = pattern.sub(replacement, value)
    return value


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redact_named(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item) for item in value]
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return value


def _redact_named(name: str, value: Any) -> Any:
    return REDACTED if _SECRET_NAMES.search(name) and value else redact_value(value)


def redact_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for name, value in event.items():
        if name not in ("exc_info", "timestamp", "level"):
            event[name] = _redact_named(name, value)
    return event


def redact_exception(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Tracebacks quote the messages of the exceptions they show."""
    if isinstance(event.get("exception"), str):
        event["exception"] = redact(event["exception"])
    return event


def configure_logging(service: str, level: str = "info") -> None:
    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_event,
            structlog.processors.format_exc_info,
            redact_exception,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
