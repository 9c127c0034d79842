"""Fair use, as arithmetic: a token bucket per user, and counted slots per user (uploads at
once; refused requests held back before their answer, see libs/web/limits.py).

A user's bucket holds up to `burst` tokens and refills at `per_second`; a request takes one,
and a request that finds less than one waits (its answer is how long). The state lives in this
process only, so the limits hold per ingest replica. Memory stays bounded: a bucket that has
refilled completely says nothing a new one would not, so idle users are forgotten, and past
`max_users` the least recently seen is dropped even if it is not full yet.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Rate:
    per_second: float  # 0: unlimited
    burst: int

    def take(self, bucket: Bucket, now: float) -> float:
        """Take a token; the seconds until one is there if there is none (0.0: taken)."""
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_second)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.per_second

    def refilled(self, bucket: Bucket, now: float) -> bool:
        return bucket.tokens + (now - bucket.updated) * self.per_second >= self.burst


class Slots:
    """At most `limit` at once per user (0: unlimited); users holding none are not stored."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken: dict[str, int] = {}

    def take(self, user: str) -> bool:
        count = self.taken.get(user, 0)
        if 0 < self.limit <= count:
            return False
        self.taken[user] = count + 1
        return True

    def give_back(self, user: str) -> None:
        count = self.taken.pop(user) - 1
        if count:
            self.taken[user] = count


class FairUse:
    def __init__(
        self,
        rate: Rate,
        max_uploads: int,
        max_held: int = 256,
        max_users: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.uploads = Slots(max_uploads)
        self.held = Slots(max_held)
        self.max_users = max_users
        self.clock = clock
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()  # least recently seen first

    def admit(self, user: str) -> float:
        """0.0: the request may go on; otherwise the seconds the user should wait."""
        if self.rate.per_second <= 0:
            return 0.0
        now = self.clock()
        self._forget_idle(now)
        bucket = self.buckets.pop(user, None) or Bucket(float(self.rate.burst), now)
        self.buckets[user] = bucket
        return self.rate.take(bucket, now)

    def _forget_idle(self, now: float) -> None:
        while self.buckets:
            user, oldest = next(iter(self.buckets.items()))
            if len(self.buckets) < self.max_users and not self.rate.refilled(oldest, now):
                return
            del self.buckets[user]
