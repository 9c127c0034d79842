"""One request-reply call over the bus: typed reply, its error mapped onto the error root."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from libs.errors import ConflictError, PermanentError, TransientError
from libs.messaging.bus import EventBus
from libs.messaging.events import decode, encode

R = TypeVar("R", bound=BaseModel)


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
