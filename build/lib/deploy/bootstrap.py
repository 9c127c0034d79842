"""Create what the services expect, idempotently: the bucket, the streams, the indexes.

`python -m deploy.bootstrap` runs it once against the configured servers (the compose one-shot
service and the Kubernetes Job).
"""

from __future__ import annotations

from libs.runtime.wiring import ensure_streams, open_object_store, open_records, run_main
from libs.settings import Settings


async def bootstrap(settings: Settings) -> None:
    async with open_object_store(settings) as store:
        await store.ensure_bucket()
    await ensure_streams(settings)
    async with open_records(settings) as records:
        await records.ensure_indexes()


def main() -> None:
    run_main("bootstrap", bootstrap)


if __name__ == "__main__":
    main()
