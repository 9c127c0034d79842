"""A pass-through proxy in front of the real S3 server that can fail or stall DeleteObjects.

It forwards every request unchanged (the Host header too, so SigV4 signatures stay valid).
While armed it holds DeleteObjects requests for a while (so a test can kill the caller
mid-request), or answers one that names a given key the way S3 does when one key fails: the
other keys are really deleted (with the proxy's own signed request) and the named key is
reported in `<Error>` and left in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import ClientSession, web
from yarl import URL

from tests.support import serving

_HOP = {"transfer-encoding", "content-length", "connection", "keep-alive", "content-encoding"}


@dataclass
class FaultPlan:
    fail_key: str = ""
    failures_left: int = 0
    stall_seconds: float = 0.0
    fail_puts_of: str = ""  # PutObject of keys ending so answers 500 while set
    delete_seen: asyncio.Event = field(default_factory=asyncio.Event)
    failures_served: int = 0


def _keys(body: bytes) -> list[str]:
    return [raw.decode() for raw in re.findall(rb"<Key>(.*?)</Key>", body)]


def _result(deleted: list[str], failed: list[str]) -> bytes:
    rows = [f"<Deleted><Key>{key}</Key></Deleted>" for key in deleted]
    rows += [
        f"<Error><Key>{key}</Key><Code>InternalError</Code><Message>injected</Message></Error>"
        for key in failed
    ]
    xml = f'<?xml version="1.0" encoding="UTF-8"?><DeleteResult>{"".join(rows)}</DeleteResult>'
    return xml.encode()


@contextlib.asynccontextmanager
async def s3_proxy(upstream: str, plan: FaultPlan, s3: Any) -> AsyncIterator[str]:
    """`s3` is an aiobotocore client on `upstream`, used for the partial deletes."""
    async with ClientSession(auto_decompress=False) as client:

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            if (
                plan.fail_puts_of
                and request.method == "PUT"
                and request.path.endswith(plan.fail_puts_of)
            ):
                return web.Response(status=500, text="<Error><Code>InternalError</Code></Error>")
            if request.method == "POST" and "delete" in request.query:
                plan.delete_seen.set()
                await asyncio.sleep(plan.stall_seconds)
                if plan.failures_left > 0 and plan.fail_key in _keys(body):
                    plan.failures_left -= 1
                    plan.failures_served += 1
                    return await _partial_delete(s3, request, _keys(body), plan.fail_key)
            return await _pass(client, upstream, request, body)

        async with serving(_app(forward)) as url:
            yield url


async def _partial_delete(
    s3: Any, request: web.Request, keys: list[str], fail: str
) -> web.Response:
    bucket = unquote(request.path.strip("/").split("/")[0])
    others = [key for key in keys if key != fail]
    if others:
        await s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in others]})
    return web.Response(body=_result(others, [fail]), content_type="application/xml")


def _app(handler: Callable[[web.Request], Awaitable[web.Response]]) -> web.Application:
    app = web.Application(client_max_size=1024**3)
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


async def _pass(
    client: ClientSession, upstream: str, request: web.Request, body: bytes
) -> web.Response:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    url = URL(f"{upstream}{request.raw_path}", encoded=True)
    async with client.request(request.method, url, headers=headers, data=body) as reply:
        payload = await reply.read()
        out = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP}
        if request.method == "HEAD":  # keep the object's length; a HEAD answer has no body
            out["Content-Length"] = reply.headers.get("Content-Length", "0")
            return web.Response(status=reply.status, headers=out)
        return web.Response(status=reply.status, body=payload, headers=out)
