"""One exception root. Transient errors are retried; permanent ones are dead-lettered."""

from __future__ import annotations


class CliptrailError(Exception):
    """Root of every error cliptrail raises on purpose."""


class TransientError(CliptrailError):
    """May succeed if tried again later (a server down, a timeout, a throttle)."""


class PermanentError(CliptrailError):
    """Will never succeed as asked (malformed message, missing file, bad key)."""


class ConflictError(PermanentError):
    """A conditional write lost: the object changed since it was read (HTTP 412)."""


class ProblemError(CliptrailError):
    """An HTTP request that fails with an RFC 9457 problem (always a 4xx or a 503)."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: object) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra
