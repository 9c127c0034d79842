"""One exception root. Transient errors are retried; permanent ones are dead-lettered.

The domain's refusals (`RefusedError` and its kinds) say which rule a request broke; the HTTP
edge alone turns them into problems (services/ingest/handlers.py), and `ProblemError` is raised
only at HTTP edges.
"""

from __future__ import annotations


class CliptrailError(Exception):
    """Root of every error cliptrail raises on purpose."""


class TransientError(CliptrailError):
    """May succeed if tried again later (a server down, a timeout, a throttle)."""


class PermanentError(CliptrailError):
    """Will never succeed as asked (malformed message, missing file, bad key)."""


class ConflictError(PermanentError):
    """A conditional write lost: the object changed since it was read (HTTP 412)."""


class RefusedError(PermanentError):
    """A request that breaks a rule. `title` names the rule, `facts` are the figures behind it
    (shown to the client)."""

    default_title = "Refused"

    def __init__(self, detail: str, title: str | None = None, **facts: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.title = title or self.default_title
        self.facts = facts


class NotFoundError(RefusedError):
    default_title = "Not Found"


class InvalidError(RefusedError):
    """Well-formed, but not acceptable (a bad name, highlights that do not fit the video)."""

    default_title = "Invalid request"


class TooLargeError(RefusedError):
    default_title = "Too large"


class StateError(RefusedError):
    """Asked of something in a state that does not allow it (the clips of a failed video)."""

    default_title = "Conflict"


class UnavailableError(TransientError):
    """A backing service needed for the answer does not answer now."""

    def __init__(self, detail: str, title: str = "Service Unavailable") -> None:
        super().__init__(detail)
        self.detail = detail
        self.title = title


class ProblemError(CliptrailError):
    """An HTTP request that fails with an RFC 9457 problem (always a 4xx or a 503)."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: object) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


class ConfigError(PermanentError):
    """Settings a service refuses to start with (the message says which and why)."""
