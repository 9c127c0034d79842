"""The map of the message edge: every subject, its message type, who sends and who receives it,
and the streams and durable consumers, all under one optional prefix.

The map is the single source for three things: each service's edge table must match it (a test
checks that), the typed request-reply calls take their reply type from it, and NATS permissions
can be generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from libs.messaging import events as ev

INGEST, STORAGE, TRACKING, RENDER = "ingest", "storage", "tracking", "render"
SERVICES = (INGEST, STORAGE, TRACKING, RENDER)
# The one service that reads, replays and purges dead letters (for the admin CLI and endpoints);
# replaying means publishing to every JetStream subject, so only it may.
DEADLETTER_ADMIN = TRACKING


@dataclass(frozen=True)
class Route:
    """One subject. With a `reply` type it is request-reply (core NATS, one answering service);
    without, a JetStream subject whose messages each receiver consumes durably."""

    name: str
    message: type[BaseModel]
    senders: frozenset[str]
    receivers: frozenset[str]
    reply: type[BaseModel] | None = None
    # JetStream subjects: each receiver's durable consumer, as (service, durable name).
    durables: tuple[tuple[str, str], ...] = ()

    def durable(self, service: str) -> str:
        """The durable consumer name of `service` on this subject; KeyError if it has none."""
        return dict(self.durables)[service]


def _stream(
    name: str, message: type[BaseModel], senders: set[str], receivers: dict[str, str]
) -> Route:
    """`receivers` maps each consuming service to its durable consumer's name."""
    return Route(
        name, message, frozenset(senders), frozenset(receivers), None,
        tuple(sorted(receivers.items())),
    )  # fmt: skip


def _rpc(
    name: str, message: type[BaseModel], reply: type[BaseModel], senders: set[str], receiver: str
) -> Route:
    return Route(name, message, frozenset(senders), frozenset({receiver}), reply)


ROUTES: tuple[Route, ...] = (
    _stream(ev.OBJECT_CREATED, ev.ObjectEvent, {STORAGE}, {TRACKING: "tracking-created"}),
    _stream(ev.OBJECT_DELETED, ev.ObjectEvent, {STORAGE}, {TRACKING: "tracking-deleted"}),
    _stream("cliptrail.work.render.requested", ev.RenderRequest, {INGEST},
            {RENDER: "render-requested"}),
    _stream("cliptrail.work.render.status", ev.RenderStatus, {RENDER},
            {INGEST: "ingest-render-status"}),
    _stream("cliptrail.work.tracking.cleanup", ev.CleanupRequest, {INGEST},
            {TRACKING: "tracking-cleanup"}),
    _rpc("cliptrail.rpc.storage.presign", ev.PresignRequest, ev.PresignReply,
         {INGEST, RENDER}, STORAGE),
    _rpc("cliptrail.rpc.storage.ping", ev.Ping, ev.PingReply, {INGEST}, STORAGE),
    _rpc("cliptrail.rpc.storage.put-url", ev.PutUrlRequest, ev.PutUrlReply,
         {INGEST, RENDER}, STORAGE),
    _rpc("cliptrail.rpc.storage.commit", ev.CommitRequest, ev.StoredReply,
         {INGEST, RENDER}, STORAGE),
    _rpc("cliptrail.rpc.storage.upload.begin", ev.BeginUploadRequest, ev.BeginUploadReply,
         {INGEST, RENDER}, STORAGE),
    _rpc("cliptrail.rpc.storage.upload.part-urls", ev.PartUrlsRequest, ev.PartUrlsReply,
         {INGEST, RENDER}, STORAGE),
    _rpc("cliptrail.rpc.storage.upload.complete", ev.CompleteUploadRequest, ev.StoredReply,
         {INGEST, RENDER}, STORAGE),
    _rpc("cliptrail.rpc.storage.upload.abort", ev.AbortUploadRequest, ev.AbortReply,
         {INGEST, RENDER}, STORAGE),
    _rpc("cliptrail.rpc.storage.delete", ev.DeleteRequest, ev.DeleteReply,
         {TRACKING, INGEST}, STORAGE),
    _rpc("cliptrail.rpc.storage.list", ev.ListRequest, ev.ListReply, {TRACKING}, STORAGE),
    _rpc("cliptrail.rpc.storage.head", ev.HeadRequest, ev.HeadReply, {INGEST, TRACKING}, STORAGE),
    _rpc("cliptrail.rpc.tracking.ping", ev.Ping, ev.PingReply, {INGEST}, TRACKING),
    _rpc("cliptrail.rpc.tracking.cleanup", ev.CleanupCommand, ev.AdminReply, {INGEST}, TRACKING),
    _rpc("cliptrail.rpc.tracking.reconcile", ev.ReconcileCommand, ev.AdminReply,
         {INGEST}, TRACKING),
    _rpc("cliptrail.rpc.tracking.usage", ev.UsageQuery, ev.UsageReply, {INGEST}, TRACKING),
    _rpc("cliptrail.rpc.tracking.records", ev.RecordsQuery, ev.RecordsReply, {INGEST}, TRACKING),
    _rpc("cliptrail.rpc.tracking.deadletters", ev.DeadLetterCommand, ev.DeadLetterReply,
         {INGEST}, DEADLETTER_ADMIN),
)  # fmt: skip
_BY_NAME = {route.name: route for route in ROUTES}


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    # The dead-letter stream keeps this long and this much (0: no limit); the others keep all.
    limited: bool = False


@dataclass(frozen=True)
class KvSpec:
    """A NATS key-value bucket; `ttl` (seconds, 0: none) ages every key out of it."""

    name: str
    users: frozenset[str]
    ttl: float = 0.0

    @property
    def stream(self) -> str:
        return f"KV_{self.name}"


# ingest's catalog: a lease per user (one writer across replicas; it expires unless renewed)
# and the version last published per user (a read on any replica sees every answered write).
CATALOG_LEASES, CATALOG_VERSIONS = "CATALOG_LEASES", "CATALOG_VERSIONS"
# Resumable uploads' state (services/ingest/resumable.py), one key per upload.
UPLOADS_KV = "UPLOADS"


@dataclass(frozen=True)
class ConsumerSpec:
    durable: str
    stream: str
    subject: str
    batch: int = 16
    # False: transient failures are retried (with capped backoff) for as long as it takes;
    # only permanent ones are dead-lettered. For work that must finish, such as cleanups.
    give_up: bool = True
    # Messages handed out and not yet settled, across all replicas (None: the bus's default).
    max_ack_pending: int | None = None


class _Subject:
    """A topology attribute that reads as its subject under the topology's prefix."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, topology: Topology, _owner: type[Topology] | None = None) -> str:
        return topology.subject(self.name)


@dataclass(frozen=True)
class Topology:
    """`prefix` isolates one deployment (or one test) from another on a shared NATS server."""

    prefix: str = ""

    def subject(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def route(self, subject: str) -> Route:
        """The route of a (prefixed) subject; KeyError for a subject not on the map."""
        return _BY_NAME[subject.removeprefix(self.prefix)]

    def _stream_name(self, name: str) -> str:
        return f"{self.prefix.replace('.', '_').upper()}{name}"

    object_created = _Subject(ev.OBJECT_CREATED)
    object_deleted = _Subject(ev.OBJECT_DELETED)
    render_requested = _Subject("cliptrail.work.render.requested")
    render_status = _Subject("cliptrail.work.render.status")
    cleanup = _Subject("cliptrail.work.tracking.cleanup")
    presign = _Subject("cliptrail.rpc.storage.presign")
    storage_ping = _Subject("cliptrail.rpc.storage.ping")
    put_url = _Subject("cliptrail.rpc.storage.put-url")
    commit = _Subject("cliptrail.rpc.storage.commit")
    begin_upload = _Subject("cliptrail.rpc.storage.upload.begin")
    part_urls = _Subject("cliptrail.rpc.storage.upload.part-urls")
    complete_upload = _Subject("cliptrail.rpc.storage.upload.complete")
    abort_upload = _Subject("cliptrail.rpc.storage.upload.abort")
    delete_rpc = _Subject("cliptrail.rpc.storage.delete")
    list_rpc = _Subject("cliptrail.rpc.storage.list")
    head_rpc = _Subject("cliptrail.rpc.storage.head")
    tracking_ping = _Subject("cliptrail.rpc.tracking.ping")
    cleanup_rpc = _Subject("cliptrail.rpc.tracking.cleanup")
    reconcile_rpc = _Subject("cliptrail.rpc.tracking.reconcile")
    usage_rpc = _Subject("cliptrail.rpc.tracking.usage")
    records_rpc = _Subject("cliptrail.rpc.tracking.records")
    deadletters_rpc = _Subject("cliptrail.rpc.tracking.deadletters")

    def dead_letter(self, subject: str) -> str:
        return f"{self.subject('deadletter.')}{subject.removeprefix(self.prefix)}"

    @property
    def streams(self) -> tuple[StreamSpec, ...]:
        return (
            StreamSpec(self._stream_name("STORAGE_EVENTS"), (self.subject("storage.object.>"),)),
            StreamSpec(self._stream_name("CLIPTRAIL_WORK"), (self.subject("cliptrail.work.>"),)),
            StreamSpec(self._stream_name("DEADLETTER"), (self.subject("deadletter.>"),), True),
        )

    def key_values(self, lease_seconds: float = 10.0) -> tuple[KvSpec, ...]:
        users = frozenset({INGEST})
        return (
            KvSpec(self._stream_name(CATALOG_LEASES), users, lease_seconds),
            KvSpec(self._stream_name(CATALOG_VERSIONS), users),
            KvSpec(self._stream_name(UPLOADS_KV), users),
        )

    def key_value(self, name: str) -> str:
        """The (prefixed) name of the KV bucket `name`."""
        return self._stream_name(name)

    @property
    def dead_letter_stream(self) -> str:
        return self._stream_name("DEADLETTER")

    def stream_of(self, subject: str) -> StreamSpec:
        return next(s for s in self.streams if _matches(s.subjects[0], subject))

    def consumer(
        self,
        durable: str,
        subject: str,
        batch: int = 16,
        give_up: bool = True,
        max_ack_pending: int | None = None,
    ) -> ConsumerSpec:
        stream = self.stream_of(subject).name
        return ConsumerSpec(durable, stream, subject, batch, give_up, max_ack_pending)

    def consumer_of(
        self,
        service: str,
        subject: str,
        batch: int = 16,
        give_up: bool = True,
        max_ack_pending: int | None = None,
    ) -> ConsumerSpec:
        """`service`'s durable consumer of `subject`, named by the map."""
        durable = self.route(subject).durable(service)
        return self.consumer(durable, subject, batch, give_up, max_ack_pending)


def _matches(pattern: str, subject: str) -> bool:
    return subject.startswith(pattern.removesuffix(">"))
