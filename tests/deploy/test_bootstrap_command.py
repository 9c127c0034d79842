"""`python -m deploy.bootstrap`, the command of the compose one-shot and the Kubernetes Job,
run as its own process against the real servers: it creates the bucket, the streams and the
indexes, and a second run changes nothing."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from libs.messaging.permissions import BOOTSTRAP
from libs.runtime.wiring import open_object_store, topology_of
from libs.settings import Settings
from tests.deploy import ROOT
from tests.support import as_identity, connect_nats, settings_env

pytestmark = pytest.mark.integration


async def run_bootstrap(settings: Settings, cwd: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.bootstrap",
        # This checkout's code, run from a directory without an .env: the environment alone
        # configures it, as in a container.
        env={**os.environ, **settings_env(settings), "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()


async def stream_names(settings: Settings) -> set[str]:
    client = await connect_nats(settings)
    try:
        return {info.config.name for info in await client.jetstream().streams_info()}
    finally:
        await client.close()


async def test_the_bootstrap_command_creates_what_the_services_expect(
    settings: Settings, records_collection: Any, tmp_path: Path
) -> None:
    # A prefix whose streams nobody has made yet; bootstrap runs as its own NATS identity.
    settings = settings.model_copy(update={"nats_prefix": f"b{settings.nats_prefix}"})
    assert not {stream.name for stream in topology_of(settings).streams} & await stream_names(
        settings
    )
    for _ in range(2):
        await run_bootstrap(as_identity(settings, BOOTSTRAP), tmp_path)
        async with open_object_store(settings) as store:
            await store.ping()  # HeadBucket: the bucket exists
        expected = {stream.name for stream in topology_of(settings).streams}
        assert expected <= await stream_names(settings)
        indexes = await records_collection.index_information()
        assert indexes["object_key_1"]["unique"] is True
