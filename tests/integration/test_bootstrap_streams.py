"""Bootstrap creates what is missing and never lowers or resets what an operator configured."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js.api import StreamConfig

from libs.runtime.wiring import ensure_streams, topology_of
from libs.settings import Settings
from tests.support import connect_nats


async def test_a_rerun_keeps_the_operators_limits_and_logs_the_difference(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    topology = topology_of(settings)
    client = await connect_nats(settings)
    js = client.jetstream()
    try:
        stream = topology.dead_letter_stream
        config: StreamConfig = (await js.stream_info(stream)).config
        longer = settings.deadletter_max_age_seconds * 4
        config.max_age = longer
        await js.update_stream(config)  # the operator keeps dead letters longer
        for _ in range(2):
            await ensure_streams(settings)
        kept = (await js.stream_info(stream)).config
        buckets = [b.stream for b in topology.key_values()]
        present: list[Any] = [await js.stream_info(name) for name in buckets]
    finally:
        await client.close()
    assert kept.max_age == longer
    assert kept.max_bytes == settings.deadletter_max_bytes
    assert len(present) == len(buckets)
    logged = capsys.readouterr().out
    assert "stream_differs_kept" in logged and stream in logged and "max_age" in logged
