"""The permission map against the real nats-server: every subject of the route map works for
exactly the identities the map names (sent, answered, consumed, acked, dead-lettered), and what
the map does not give is refused by the server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nkeys
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import StorageType, StreamConfig

from libs.messaging.permissions import BOOTSTRAP, inbox_prefix
from libs.messaging.topology import INGEST, RENDER, ROUTES, STORAGE, TRACKING, Route, Topology
from libs.runtime.wiring import nats_identity, topology_of
from libs.settings import Settings
from tests.support import as_identity, eventually

pytestmark = pytest.mark.integration


class Watched:
    """A client as one identity, keeping the permission violations the server reports."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.client = Client()

    async def on_error(self, error: Exception) -> None:
        self.errors.append(str(error))

    async def refused(self, what: str) -> bool:
        await self.client.flush(timeout=2)
        wanted = f"permissions violation for {what}".lower()
        return any(wanted in error.lower() for error in self.errors)


@contextlib.asynccontextmanager
async def connected(settings: Settings, identity: str) -> AsyncIterator[Watched]:
    watched = Watched()
    options = nats_identity(as_identity(settings, identity), identity).connect_options()
    await watched.client.connect(
        settings.nats_servers, error_cb=watched.on_error, allow_reconnect=False, **options
    )
    try:
        yield watched
    finally:
        await watched.client.close()


def _subject(topology: Topology, route: Route) -> str:
    return topology.subject(route.name)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.reply], ids=lambda r: r.name)
async def test_every_request_reply_route_works_for_its_senders_and_receiver(
    settings: Settings, route: Route
) -> None:
    topology = topology_of(settings)
    [receiver] = route.receivers
    async with connected(settings, receiver) as answering:

        async def echo(msg: Msg) -> None:
            await msg.respond(b"answer:" + msg.data)

        await answering.client.subscribe(_subject(topology, route), cb=echo)
        for sender in sorted(route.senders):
            async with connected(settings, sender) as asking:
                reply = await asking.client.request(_subject(topology, route), b"hi", timeout=5)
                assert reply.data == b"answer:hi"
        assert answering.errors == []


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.reply], ids=lambda r: r.name)
async def test_every_stream_route_works_for_its_senders_and_durable_receivers(
    settings: Settings, route: Route
) -> None:
    topology = topology_of(settings)
    subject = _subject(topology, route)
    for sender in sorted(route.senders):
        async with connected(settings, sender) as sending:
            await sending.client.jetstream().publish(subject, sender.encode(), timeout=5)
    for receiver in sorted(route.receivers):
        spec = topology.consumer_of(receiver, subject)
        async with connected(settings, receiver) as consuming:
            js = consuming.client.jetstream()
            sub = await js.pull_subscribe(subject, durable=spec.durable, stream=spec.stream)
            [msg] = await sub.fetch(1, timeout=5)
            await msg.in_progress()
            await msg.ack_sync()
            await js.publish(topology.dead_letter(subject), msg.data, timeout=5)
            assert consuming.errors == []


@pytest.mark.parametrize(
    ("identity", "name"),
    [
        (INGEST, "storage.object.created"),  # a forged "object stored": usage up to 1 TB
        (RENDER, "storage.object.deleted"),
        (TRACKING, "cliptrail.rpc.storage.presign"),
        (RENDER, "cliptrail.rpc.storage.delete"),  # delete another user's objects
        (INGEST, "cliptrail.rpc.storage.list"),  # list every key
        (RENDER, "cliptrail.rpc.tracking.cleanup"),
        (STORAGE, "cliptrail.work.tracking.cleanup"),  # a forged cleanup
    ],
)
async def test_a_service_cannot_send_what_the_map_does_not_give_it(
    settings: Settings, identity: str, name: str
) -> None:
    subject = topology_of(settings).subject(name)
    async with connected(settings, identity) as client:
        await client.client.publish(subject, b"forged")
        assert await eventually(lambda: client.refused(f'publish to "{subject}"'), timeout=5)


async def test_only_bootstrap_may_create_streams(settings: Settings) -> None:
    name = f"{settings.nats_prefix.replace('.', '_').upper()}EXTRA"
    config = StreamConfig(name=name, subjects=[f"{settings.nats_prefix}extra.>"])
    config.storage = StorageType.MEMORY
    async with connected(settings, TRACKING) as tracking:
        with pytest.raises((NatsError, TimeoutError)):
            await tracking.client.jetstream(timeout=1).add_stream(config)
        assert await tracking.refused(f'publish to "$JS.API.STREAM.CREATE.{name}"')
    async with connected(settings, BOOTSTRAP) as bootstrap:
        js = bootstrap.client.jetstream()
        assert (await js.add_stream(config)).config.name == name
    async with connected(settings, "admin") as admin:
        await admin.client.jetstream().delete_stream(name)


@pytest.mark.parametrize(("identity", "other"), [(INGEST, STORAGE), (RENDER, TRACKING)])
async def test_a_service_cannot_read_another_services_inbox_or_requests(
    settings: Settings, identity: str, other: str
) -> None:
    stolen = f"{inbox_prefix(other)}.>"
    async with connected(settings, identity) as client:
        await client.client.subscribe(stolen)
        await client.client.subscribe(topology_of(settings).storage_ping)  # storage's own
        assert await eventually(lambda: client.refused(f'subscription to "{stolen}"'), timeout=5)
        ping = topology_of(settings).storage_ping
        assert await client.refused(f'subscription to "{ping}"')


async def test_anonymous_and_unknown_clients_cannot_connect(
    settings: Settings, tmp_path: Path
) -> None:
    await _refused(settings)
    stranger = tmp_path / "stranger.nk"
    stranger.write_bytes(nkeys.encode_seed(bytes(32), nkeys.PREFIX_BYTE_USER))
    await _refused(settings, nkeys_seed=str(stranger))


async def _refused(settings: Settings, **options: str) -> None:
    client = Client()
    with pytest.raises(NatsError, match="Authorization Violation"):
        await client.connect(
            settings.nats_servers, allow_reconnect=False, connect_timeout=3, **options
        )
    await client.close()  # the refused connection's socket too


async def test_a_key_value_buckets_users_may_write_and_list_its_keys(settings: Settings) -> None:
    """Listing keys runs an ordered consumer (create, info, flow control, delete): the tus
    expiry sweep lists the uploads' bucket so."""
    for bucket in topology_of(settings).key_values():
        for identity in sorted(bucket.users):
            async with connected(settings, identity) as client:
                kv = await client.client.jetstream(timeout=3).key_value(bucket.name)
                await kv.put(f"probe-{identity}", b"1")
                assert f"probe-{identity}" in await kv.keys(), bucket.name
                await client.client.flush(timeout=2)
                assert not client.errors, (bucket.name, client.errors)
