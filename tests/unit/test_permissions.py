"""The permission map and the NATS identities on disk: seeds made once (owner-only) and reused,
and a server config that nats-server accepts, for a deployment's prefix and for any prefix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy.natsauth import ensure_seeds, write_server_config
from libs.messaging.permissions import (
    ADMIN,
    ANY_PREFIX,
    BOOTSTRAP,
    IDENTITIES,
    permissions,
    seed_file,
)
from libs.messaging.topology import ROUTES, SERVICES, Topology


def test_seeds_are_made_once_readable_by_their_owner_only(tmp_path: Path) -> None:
    first = ensure_seeds(tmp_path / "secrets")
    assert ensure_seeds(tmp_path / "secrets") == first
    assert set(first) == set(IDENTITIES) and len(set(first.values())) == len(IDENTITIES)
    for identity in IDENTITIES:
        assert seed_file(tmp_path / "secrets", identity).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("prefix", ["", "prod.", ANY_PREFIX])
def test_the_generated_config_is_one_nats_server_accepts(tmp_path: Path, prefix: str) -> None:
    config = write_server_config(tmp_path / "nats.conf", tmp_path / "secrets", prefix)
    server = Path(sys.executable).parent / "nats-server"
    check = subprocess.run([server, "-t", "-c", config], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert config.read_text().count('"nkey"') == len(IDENTITIES)


def test_no_service_may_touch_streams_and_only_admin_has_everything() -> None:
    for identity in SERVICES:
        allowed = permissions(identity, "prod.")
        changes = (".STREAM.CREATE.", ".STREAM.UPDATE.", ".STREAM.DELETE.")
        assert not [s for s in allowed.publish if any(c in s for c in changes)]
        assert ">" not in allowed.publish and ">" not in allowed.subscribe
    assert permissions(ADMIN).publish == (">",)
    assert all(".STREAM." in s for s in permissions(BOOTSTRAP, "prod.").publish)


@pytest.mark.parametrize("identity", SERVICES)
def test_a_service_publishes_what_it_sends_and_answers_only_what_it_receives(
    identity: str,
) -> None:
    topology = Topology("prod.")
    allowed = permissions(identity, "prod.")
    for route in ROUTES:
        subject = topology.subject(route.name)
        assert (subject in allowed.publish) >= (identity in route.senders)
        answers = route.reply is not None and identity in route.receivers
        assert (subject in allowed.subscribe) == answers
    assert allowed.subscribe[0] == f"_INBOX.{identity}.>"


def test_only_ingest_reads_and_writes_the_catalog_kv_buckets_and_only_bootstrap_creates_them() -> (
    None
):
    topology = Topology("p.")
    leases = topology.key_value("CATALOG_LEASES")
    assert f"$KV.{leases}.>" in permissions("ingest", "p.").publish
    for other in ("storage", "tracking", "render"):
        assert not any("$KV." in s for s in permissions(other, "p.").publish)
    assert not any("STREAM.CREATE" in s for s in permissions("ingest", "p.").publish)
    assert f"$JS.API.STREAM.CREATE.KV_{leases}" in permissions("bootstrap", "p.").publish
