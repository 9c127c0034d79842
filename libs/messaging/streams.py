"""What bootstrap creates on JetStream: the streams of the route map and the KV buckets.

Only what is missing is created. An existing stream is never updated or reset: an operator may
have raised its limits or its replicas, and what differs from ours is logged, not undone.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from libs.messaging.topology import KvSpec, StreamSpec

log = structlog.get_logger(__name__)
CHECKED = ("subjects", "num_replicas", "max_age", "max_bytes", "storage")


@dataclass(frozen=True)
class StreamLimits:
    """Copies of each stream (1; 3 on a three-node cluster), and how long and how much the
    dead-letter stream keeps (0: no limit)."""

    replicas: int = 1
    dead_letter_max_age: float = 30 * 86400.0
    dead_letter_max_bytes: int = 1024**3


async def ensure_streams(
    js: JetStreamContext,
    streams: tuple[StreamSpec, ...],
    buckets: tuple[KvSpec, ...],
    limits: StreamLimits,
) -> None:
    configs = [stream_config(s, limits) for s in streams]
    configs += [kv_config(b, limits.replicas) for b in buckets]
    for config in configs:
        await _ensure(js, config)


async def _ensure(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        existing = (await js.stream_info(str(config.name))).config
    except NotFoundError:
        await js.add_stream(config)
        log.info("stream_created", stream=config.name)
        return
    found = differences(config, existing)
    if found:
        log.warning("stream_differs_kept", stream=config.name, differences=found)


def stream_config(spec: StreamSpec, limits: StreamLimits) -> StreamConfig:
    config = StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        duplicate_window=600.0,
        num_replicas=limits.replicas,
    )
    if spec.limited:
        config.max_age = limits.dead_letter_max_age or None
        config.max_bytes = limits.dead_letter_max_bytes or None
    return config


def kv_config(spec: KvSpec, replicas: int) -> StreamConfig:
    """A key-value bucket as nats-py's create_key_value makes one (one value per key)."""
    return StreamConfig(
        name=spec.stream,
        subjects=[f"$KV.{spec.name}.>"],
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_msgs_per_subject=1,
        max_age=spec.ttl or None,
        duplicate_window=min(spec.ttl, 120.0) if spec.ttl else 120.0,
        allow_rollup_hdrs=True,
        deny_delete=True,
        discard=DiscardPolicy.NEW,
        allow_direct=True,
    )


def differences(wanted: StreamConfig, existing: StreamConfig) -> dict[str, object]:
    """What an existing stream has that differs from what we would create."""
    found: dict[str, object] = {}
    for name in CHECKED:
        ours, theirs = _normal(getattr(wanted, name)), _normal(getattr(existing, name))
        if ours is not None and ours != theirs:
            found[name] = {"ours": ours, "kept": theirs}
    return found


def _normal(value: object) -> object:
    """-1 or 0 (the server's 'unlimited') and None read alike; lists as sorted tuples."""
    if value in (-1, 0, None):
        return None
    if isinstance(value, list):
        return tuple(sorted(value))
    return getattr(value, "value", value)
