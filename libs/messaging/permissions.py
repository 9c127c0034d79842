"""Who may do what on NATS, derived from the route map: one identity (NKey) per service, plus
`bootstrap` (creates the streams and KV buckets) and `admin` (the operator: everything).

A service may publish only the subjects it sends (and the dead letters of what it consumes),
subscribe only to the requests it answers and its own inbox (`_INBOX.<service>.>`), and call
only the JetStream API of its own durable consumers. Nobody but bootstrap and admin may create,
change or delete streams. `nats_authorization` renders this as a nats-server `authorization`
block; deploy/natsauth.py writes it into the server config.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from libs.messaging.topology import (
    DEADLETTER_ADMIN,
    ROUTES,
    SERVICES,
    Route,
    Topology,
)

BOOTSTRAP, ADMIN = "bootstrap", "admin"
IDENTITIES = (*SERVICES, BOOTSTRAP, ADMIN)
# Permissions for every prefix of one token (tests give each test its own `t<hex>.` prefix).
ANY_PREFIX = "*."
JS_API = "$JS.API"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False  # may answer the requests it receives (once each)


def seed_file(secrets_dir: Path, identity: str) -> Path:
    """Where `make run` keeps an identity's NKey seed."""
    return secrets_dir / f"{identity}.nk"


def inbox_prefix(identity: str) -> str:
    return f"_INBOX.{identity}"


def permissions(identity: str, prefix: str = "") -> Permissions:
    """What `identity` may do under `prefix` (a deployment's prefix, or ANY_PREFIX)."""
    if identity == ADMIN:
        return Permissions((">",), (">",))
    scope = _Scope(Topology(prefix))
    if identity == BOOTSTRAP:
        return Permissions(tuple(scope.stream_admin()), (f"{inbox_prefix(identity)}.>",))
    publish = [*scope.sends(identity), *scope.consumes(identity), *scope.key_values(identity)]
    if identity == DEADLETTER_ADMIN:
        publish += scope.dead_letter_admin()
    answers = [scope.subject(r) for r in ROUTES if r.reply and identity in r.receivers]
    subscribe = [f"{inbox_prefix(identity)}.>", *answers]
    return Permissions(_unique(publish), _unique(subscribe), bool(answers))


class _Scope:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.wildcard = topology.prefix == ANY_PREFIX

    def subject(self, route: Route) -> str:
        return self.topology.subject(route.name)

    def stream(self, route: Route) -> str:
        """A stream's name as one subject token (any token under the wildcard prefix)."""
        return "*" if self.wildcard else self.topology.stream_of(self.subject(route)).name

    def sends(self, identity: str) -> list[str]:
        return [self.subject(r) for r in ROUTES if identity in r.senders]

    def consumes(self, identity: str) -> list[str]:
        """The JetStream API of its own durable consumers, their acks, their dead letters."""
        allowed = []
        for route in (r for r in ROUTES if r.reply is None and identity in r.receivers):
            consumer = f"{self.stream(route)}.{route.durable(identity)}"
            allowed += [
                f"{JS_API}.CONSUMER.INFO.{consumer}",
                f"{JS_API}.CONSUMER.CREATE.{consumer}.>",
                f"{JS_API}.CONSUMER.MSG.NEXT.{consumer}",
                f"$JS.ACK.{consumer}.>",
                self.topology.dead_letter(self.subject(route)),
            ]
        return allowed

    def dead_letter_admin(self) -> list[str]:
        """Read, delete and purge dead letters, and replay them to their original subjects."""
        stream = "*" if self.wildcard else self.topology.dead_letter_stream
        calls = ("STREAM.INFO", "STREAM.MSG.GET", "STREAM.MSG.DELETE", "STREAM.PURGE")
        replays = [self.subject(r) for r in ROUTES if r.reply is None]
        return [*(f"{JS_API}.{call}.{stream}" for call in calls), *replays]

    def key_values(self, identity: str) -> list[str]:
        """Read and write the keys of the KV buckets it uses (get, put, create, update, delete
        by revision), list them (an ordered consumer: create, info, flow control, delete), and
        look the bucket up; never create, change or purge a bucket."""
        allowed = []
        for bucket in (b for b in self.topology.key_values() if identity in b.users):
            name, stream = ("*", "*") if self.wildcard else (bucket.name, bucket.stream)
            allowed += [
                f"$KV.{name}.>",
                f"{JS_API}.STREAM.INFO.{stream}",
                f"{JS_API}.DIRECT.GET.{stream}.>",
                f"{JS_API}.STREAM.MSG.GET.{stream}",
                f"{JS_API}.CONSUMER.CREATE.{stream}",
                f"{JS_API}.CONSUMER.CREATE.{stream}.>",
                f"{JS_API}.CONSUMER.INFO.{stream}.>",  # the ordered consumer checks on itself
                f"{JS_API}.CONSUMER.DELETE.{stream}.>",
                f"$JS.FC.{stream}.>",
            ]
        return allowed

    def stream_admin(self) -> list[str]:
        buckets = [b.stream for b in self.topology.key_values()]
        names = ["*"] if self.wildcard else [s.name for s in self.topology.streams] + buckets
        calls = ("STREAM.INFO", "STREAM.CREATE", "STREAM.UPDATE")
        return [f"{JS_API}.{call}.{name}" for name in names for call in calls]


def _unique(subjects: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(subjects))


def nats_authorization(public_keys: Mapping[str, str], prefix: str = "") -> str:
    """A nats-server `authorization` block: each identity's public NKey and permissions.
    Anonymous clients are refused (there is no `no_auth_user`). JSON is valid NATS config,
    and its quoted strings keep `$JS...` from being read as variables."""
    users = authorization_users(public_keys, prefix)
    return f"authorization {json.dumps({'users': users}, indent=2)}\n"


def authorization_users(
    public_keys: Mapping[str, str], prefix: str = ""
) -> list[dict[str, object]]:
    """The `users` of a nats-server `authorization` (the config file or the Helm values)."""
    return [_user(key, permissions(identity, prefix)) for identity, key in public_keys.items()]


def _user(public_key: str, allowed: Permissions) -> dict[str, object]:
    rules: dict[str, object] = {
        "publish": {"allow": list(allowed.publish)},
        "subscribe": {"allow": list(allowed.subscribe)},
    }
    if allowed.allow_responses:
        rules["allow_responses"] = True
    return {"nkey": public_key, "permissions": rules}
