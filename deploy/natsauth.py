"""NATS identities on disk: one NKey seed per identity under `secrets/` (mode 0600, made once
and reused), and the nats-server config generated from their public keys and the permission map
(libs/messaging/permissions.py)."""

from __future__ import annotations

import os
from pathlib import Path

import nkeys

from libs.messaging.permissions import IDENTITIES, nats_authorization, seed_file

BASE_CONFIG = Path(__file__).resolve().parent / "nats.conf"


def ensure_seed(path: Path) -> str:
    """The public key of the seed at `path`, creating the seed (readable by its owner only)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(seed + b"\n")
    public: bytes = nkeys.from_seed(path.read_bytes().strip()).public_key
    return public.decode()


def ensure_seeds(secrets_dir: Path) -> dict[str, str]:
    """Every identity's public key, creating whichever seed is missing."""
    return {identity: ensure_seed(seed_file(secrets_dir, identity)) for identity in IDENTITIES}


def write_server_config(config: Path, secrets_dir: Path, prefix: str) -> Path:
    """deploy/nats.conf plus the generated `authorization` block, written to `config`."""
    authorization = nats_authorization(ensure_seeds(secrets_dir), prefix)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"{BASE_CONFIG.read_text()}\n{authorization}")
    return config
