"""A user who floods: `python -m tests.flood URL TOKEN SECONDS CONCURRENCY` sends GETs to URL as
fast as CONCURRENCY connections allow, until SIGTERM or for SECONDS at most, then prints the
count per status as JSON. A process of its own, so the flood's client work never shares the
measuring test's event loop."""

from __future__ import annotations

import asyncio
import collections
import json
import signal
import sys
import time

import aiohttp

MAX_REQUESTS = 200_000  # bounded in count as well as in time


async def flood(url: str, token: str, seconds: float, concurrency: int) -> dict[int, int]:
    counts: collections.Counter[int] = collections.Counter()
    deadline = time.monotonic() + seconds
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def worker() -> None:
            while (
                not stop.is_set() and time.monotonic() < deadline and counts.total() < MAX_REQUESTS
            ):
                async with http.get(url) as response:
                    await response.read()
                    counts[response.status] += 1

        print("flooding", flush=True)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return dict(counts)


def main() -> None:
    url, token, seconds, concurrency = sys.argv[1:5]
    print(json.dumps(asyncio.run(flood(url, token, float(seconds), int(concurrency)))), flush=True)


if __name__ == "__main__":
    main()
