"""structlog, configured once per process: JSON outside a terminal, pretty inside one."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SIGNATURE = re.compile(r"(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=[^&\s\"']+")


def redact(value: str) -> str:
    """Presigned URLs may be logged, their signatures never."""
    return _SIGNATURE.sub(r"\1=REDACTED", value)


def _redact_processor(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for name, value in event.items():
        if isinstance(value, str) and "X-Amz-" in value:
            event[name] = redact(value)
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
            _redact_processor,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
