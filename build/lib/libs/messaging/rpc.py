"""Both sides of one request-reply call: the typed ask, and the answer that turns a failure into
the reply's `error` (with `permanent` and `conflict`) instead of silence."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel

from libs.errors import CliptrailError, ConflictError, PermanentError, TransientError
from libs.messaging.bus import EventBus, Responder
from libs.messaging.events import decode, encode

R = TypeVar("R", bound=BaseModel)
Call = Callable[[Any], Awaitable[BaseModel]]
log = structlog.get_logger(__name__)


async def ask(
    bus: EventBus, subject: str, request: BaseModel, reply_type: type[R], wait: float
) -> R:
    payload = await bus.request(subject, encode(request), timeout=wait)
    reply = decode(reply_type, payload)
    error = getattr(reply, "error", None)
    if error:
        if getattr(reply, "conflict", False):
            raise ConflictError(error)
        permanent = getattr(reply, "permanent", False)
        raise (PermanentError if permanent else TransientError)(error)
    return reply


def responder(request_type: type[BaseModel], reply_type: type[BaseModel], call: Call) -> Responder:
    """Decode, call, encode. A malformed request or a refusal is a permanent error reply; any
    other failure a transient one. The responder itself never dies of a request."""

    async def answer(payload: bytes) -> bytes:
        try:
            return encode(await call(decode(request_type, payload)))
        except PermanentError as exc:
            failure = {"error": str(exc), "permanent": True}
            failure["conflict"] = isinstance(exc, ConflictError)
            return encode(reply_type.model_validate(failure))
        except CliptrailError as exc:
            log.warning("request_failed", request=request_type.__name__, error=str(exc))
            return encode(reply_type.model_validate({"error": str(exc)}))
        except Exception:  # a bug: answer it, and keep answering the next request
            log.exception("request_crashed", request=request_type.__name__)
            return encode(reply_type.model_validate({"error": "internal error (logged)"}))

    return answer
