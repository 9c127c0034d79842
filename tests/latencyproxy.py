"""A TCP proxy that adds round-trip time, as between cliptrail and R2 over the internet.

Every chunk is delivered `rtt / 2` after it arrived, in each direction, so a request and its
answer take one extra round trip while the throughput stays what the link allows (chunks are
not held back behind each other). Run it as `python -m tests.latencyproxy UPSTREAM_PORT
LISTEN_PORT RTT_SECONDS` (its own process, so the caller's event loop does not delay it).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

CHUNK = 256 * 1024


async def _pump(reader: asyncio.StreamReader, due: asyncio.Queue[tuple[float, bytes]]) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(CHUNK):
            due.put_nowait((loop.time(), chunk))
    due.put_nowait((loop.time(), b""))


async def _deliver(
    due: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter, delay: float
) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(ConnectionError, RuntimeError):
        while True:
            arrived, chunk = await due.get()
            await asyncio.sleep(max(0.0, arrived + delay - loop.time()))
            if not chunk:
                writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()


async def _direction(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    await asyncio.gather(_pump(reader, due), _deliver(due, writer, delay))


async def serve(upstream_port: int, listen_port: int, rtt: float) -> None:
    async def connection(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            _direction(client_r, server_w, rtt / 2), _direction(server_r, client_w, rtt / 2)
        )
        for writer in (client_w, server_w):
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
