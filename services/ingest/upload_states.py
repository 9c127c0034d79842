"""Resumable uploads' state in a NATS KV bucket: every ingest replica reads the same state, and
each write is compare-and-set on the revision it read, so of two racing writers one loses."""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.errors import Error as NatsError
from nats.js.errors import InvalidKeyError, KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from libs.errors import ConflictError, TransientError
from libs.messaging.bus import EventBus
from libs.messaging.nats_bus import NatsBus
from libs.messaging.topology import UPLOADS_KV, Topology
from services.ingest.resumable import UploadState, Versioned


@dataclass
class KvUploadStates:
    bus: NatsBus
    bucket: str
    _kv: KeyValue | None = field(default=None, repr=False)

    @classmethod
    def of(cls, bus: EventBus, topology: Topology) -> KvUploadStates:
        if not isinstance(bus, NatsBus):
            raise TypeError("resumable uploads keep their state in NATS KV")
        return cls(bus, topology.key_value(UPLOADS_KV))

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.bus.jetstream.key_value(self.bucket)
        return self._kv

    async def get(self, upload_id: str) -> Versioned | None:
        try:
            entry = await (await self._bucket()).get(upload_id)
        except (KeyNotFoundError, InvalidKeyError):  # a key NATS refuses was never created
            return None
        except (NatsError, TimeoutError) as exc:
            raise TransientError(f"reading upload state failed: {exc!r}") from exc
        if entry.value is None or entry.revision is None:
            return None
        return Versioned(UploadState.model_validate_json(entry.value), entry.revision)

    async def create(self, state: UploadState) -> int:
        return await self._write(state, 0)

    async def update(self, state: UploadState, revision: int) -> int:
        """The new revision; ConflictError if someone wrote since `revision`."""
        return await self._write(state, revision)

    async def _write(self, state: UploadState, revision: int) -> int:
        kv, value = await self._bucket(), state.model_dump_json().encode()
        try:
            if revision == 0:
                return await kv.create(state.upload_id, value)
            return await kv.update(state.upload_id, value, last=revision)
        except KeyWrongLastSequenceError as exc:
            raise ConflictError("the upload changed meanwhile") from exc
        except (NatsError, TimeoutError) as exc:
            if "wrong last sequence" in str(exc):
                raise ConflictError("the upload changed meanwhile") from exc
            raise TransientError(f"writing upload state failed: {exc!r}") from exc

    async def delete(self, upload_id: str, revision: int) -> None:
        try:
            await (await self._bucket()).delete(upload_id, last=revision)
        except KeyWrongLastSequenceError as exc:
            raise ConflictError("the upload changed meanwhile") from exc
        except (NatsError, TimeoutError) as exc:
            raise TransientError(f"deleting upload state failed: {exc!r}") from exc

    async def ids(self) -> list[str]:
        try:
            return list(await (await self._bucket()).keys())
        except NoKeysError:
            return []
        except (NatsError, TimeoutError) as exc:
            raise TransientError(f"listing upload states failed: {exc!r}") from exc
