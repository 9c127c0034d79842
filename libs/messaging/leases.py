"""Leases and published versions in NATS KV: what lets several replicas share per-key state.

A lease is a key created only if absent (compare-and-set on revision 0), renewed by its holder
(an update on the revision it last wrote) and released by a delete on that revision. The
bucket's max_age ages a key out once its holder stops renewing (a crashed replica). A version
is a small JSON value per key, read on every read so that a replica notices a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from libs.errors import TransientError

log = structlog.get_logger(__name__)
FIRST_WAIT, MAX_WAIT = 0.005, 0.1


class LeaseLostError(TransientError):
    """The lease lapsed or was taken over while held: what it guarded may not be done."""


@contextlib.asynccontextmanager
async def _kv_errors(action: str) -> AsyncIterator[None]:
    try:
        yield
    except (KeyNotFoundError, KeyWrongLastSequenceError):
        raise  # answers, not failures
    except (NatsError, TimeoutError) as exc:
        raise TransientError(f"NATS KV could not {action}: {exc!r}") from exc


class _Bucket:
    def __init__(self, js: JetStreamContext, bucket: str) -> None:
        self._js = js
        self._bucket = bucket
        self._kv: KeyValue | None = None

    async def kv(self) -> KeyValue:
        if self._kv is None:
            async with _kv_errors(f"open bucket {self._bucket}"):
                self._kv = await self._js.key_value(self._bucket)
        return self._kv


class Lease:
    """A held lease; `confirm` renews it now and raises LeaseLostError if it is gone."""

    def __init__(self, kv: KeyValue, key: str, revision: int) -> None:
        self._kv, self._key, self.revision = kv, key, revision
        self.lost = False

    async def confirm(self) -> None:
        if self.lost:
            raise LeaseLostError(f"lease {self._key} lapsed")
        try:
            self.revision = await self._kv.update(self._key, b"held", last=self.revision)
        except KeyWrongLastSequenceError as exc:
            self.lost = True
            raise LeaseLostError(f"lease {self._key} was taken over") from exc
        except (NatsError, TimeoutError) as exc:
            raise LeaseLostError(f"lease {self._key} could not be renewed: {exc!r}") from exc

    async def keep(self, every: float) -> None:
        """Renew until cancelled; a renewal that fails marks the lease lost."""
        while not self.lost:
            await asyncio.sleep(every)
            with contextlib.suppress(LeaseLostError):
                await self.confirm()

    async def release(self) -> None:
        if self.lost:
            return
        with contextlib.suppress(NatsError, TimeoutError):  # it lapses by itself anyway
            await self._kv.delete(self._key, last=self.revision)


class KvLeases(_Bucket):
    """One holder per key at a time, across every process connected to the bucket."""

    def __init__(self, js: JetStreamContext, bucket: str, ttl: float, wait: float) -> None:
        super().__init__(js, bucket)
        self._ttl = ttl
        self._wait = wait  # how long to wait for a lease before giving up

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[Lease]:
        lease = await self._acquire(key)
        keeper = asyncio.create_task(lease.keep(self._ttl / 3))
        try:
            yield lease
        finally:
            keeper.cancel()
            await lease.release()

    async def _acquire(self, key: str) -> Lease:
        kv = await self.kv()
        deadline = asyncio.get_running_loop().time() + self._wait
        pause = FIRST_WAIT
        while True:
            # Held elsewhere; or released between nats-py's create and its look at the key.
            with contextlib.suppress(KeyWrongLastSequenceError, KeyNotFoundError):
                async with _kv_errors(f"take lease {key}"):
                    return Lease(kv, key, await kv.create(key, uuid.uuid4().bytes))
            if asyncio.get_running_loop().time() + pause > deadline:
                raise TransientError(f"lease {key} is held elsewhere")
            await asyncio.sleep(pause)
            pause = min(2 * pause, MAX_WAIT)


@dataclass(frozen=True)
class Published:
    version: int
    etag: str


class KvVersions(_Bucket):
    """The version last published per key (the object in the bucket stays the truth)."""

    async def get(self, key: str) -> Published | None:
        kv = await self.kv()
        try:
            async with _kv_errors(f"read {key}"):
                entry = await kv.get(key)
        except KeyNotFoundError:
            return None
        return Published(**json.loads(entry.value or b"{}"))

    async def put(self, key: str, published: Published) -> None:
        kv = await self.kv()
        async with _kv_errors(f"write {key}"):
            await kv.put(key, json.dumps(published.__dict__).encode())

    async def seed(self, key: str, published: Published) -> None:
        """Store it unless a value is there already (a writer's put wins over a reader's seed)."""
        kv = await self.kv()
        with contextlib.suppress(KeyWrongLastSequenceError):
            async with _kv_errors(f"seed {key}"):
                await kv.create(key, json.dumps(published.__dict__).encode())
