"""Names of every stream, subject and durable consumer, under one optional prefix."""

from __future__ import annotations

from dataclasses import dataclass

from libs.messaging.events import OBJECT_CREATED, OBJECT_DELETED


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class ConsumerSpec:
    durable: str
    stream: str
    subject: str
    batch: int = 16
    # False: transient failures are retried (with capped backoff) for as long as it takes;
    # only permanent ones are dead-lettered. For work that must finish, such as cleanups.
    give_up: bool = True


@dataclass(frozen=True)
class Topology:
    """`prefix` isolates one deployment (or one test) from another on a shared NATS server."""

    prefix: str = ""

    def subject(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _stream_name(self, name: str) -> str:
        return f"{self.prefix.replace('.', '_').upper()}{name}"

    @property
    def object_created(self) -> str:
        return self.subject(OBJECT_CREATED)

    @property
    def object_deleted(self) -> str:
        return self.subject(OBJECT_DELETED)

    @property
    def push(self) -> str:
        return self.subject("cliptrail.work.storage.push")

    @property
    def push_failed(self) -> str:
        return self.subject("cliptrail.work.storage.push-failed")

    @property
    def render_requested(self) -> str:
        return self.subject("cliptrail.work.render.requested")

    @property
    def render_status(self) -> str:
        return self.subject("cliptrail.work.render.status")

    @property
    def cleanup(self) -> str:
        return self.subject("cliptrail.work.tracking.cleanup")

    @property
    def push_rpc(self) -> str:
        return self.subject("cliptrail.rpc.storage.push")

    @property
    def delete_rpc(self) -> str:
        return self.subject("cliptrail.rpc.storage.delete")

    @property
    def list_rpc(self) -> str:
        return self.subject("cliptrail.rpc.storage.list")

    @property
    def head_rpc(self) -> str:
        return self.subject("cliptrail.rpc.storage.head")

    @property
    def cleanup_rpc(self) -> str:
        return self.subject("cliptrail.rpc.tracking.cleanup")

    @property
    def reconcile_rpc(self) -> str:
        return self.subject("cliptrail.rpc.tracking.reconcile")

    @property
    def presign(self) -> str:
        return self.subject("cliptrail.rpc.storage.presign")

    @property
    def storage_ping(self) -> str:
        return self.subject("cliptrail.rpc.storage.ping")

    def dead_letter(self, subject: str) -> str:
        return f"{self.subject('deadletter.')}{subject.removeprefix(self.prefix)}"

    @property
    def streams(self) -> tuple[StreamSpec, ...]:
        return (
            StreamSpec(self._stream_name("STORAGE_EVENTS"), (self.subject("storage.object.>"),)),
            StreamSpec(self._stream_name("CLIPTRAIL_WORK"), (self.subject("cliptrail.work.>"),)),
            StreamSpec(self._stream_name("DEADLETTER"), (self.subject("deadletter.>"),)),
        )

    @property
    def dead_letter_stream(self) -> str:
        return self._stream_name("DEADLETTER")

    def consumer(
        self, durable: str, subject: str, batch: int = 16, give_up: bool = True
    ) -> ConsumerSpec:
        stream = next(s.name for s in self.streams if _matches(s.subjects[0], subject))
        return ConsumerSpec(durable, stream, subject, batch, give_up)


def _matches(pattern: str, subject: str) -> bool:
    return subject.startswith(pattern.removesuffix(">"))
