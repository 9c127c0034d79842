"""What a request may be: the sizes every service's HTTP edge enforces, in one place.

Two layers. aiohttp's HTTP parser refuses a request line or header past `PARSER_LIMITS` before
any middleware runs, and answers that itself: a text/plain 400 that closes the connection (its
RequestHandler.handle_error; no public hook makes it problem+json). So the parser's limits are a
hard cap set above the policy below, which `oversized` checks inside problem_middleware and
answers as problem+json: 414 for a long request target, 431 for header fields.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from libs.errors import ProblemError

MAX_TARGET_BYTES = 8 * 1024
MAX_HEADER_FIELD_BYTES = 8 * 1024  # one field, name and value (a JWT is well under 2 KiB)
MAX_HEADER_BYTES = 32 * 1024  # all fields together
MAX_HEADERS = 64
PARSER_LIMITS: dict[str, Any] = {
    "max_line_size": 16 * 1024,
    "max_field_size": 16 * 1024,
    "max_headers": 128,
}

MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
MAX_JSON_INT_DIGITS = 30
# A string (closed or not, so no match ever backtracks) or a bracket: one linear pass.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def app_runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    """The runner every service (serve_until_signal) and every test (tests/support) serves with."""
    return web.AppRunner(app, access_log=None, **PARSER_LIMITS, **kwargs)


def oversized(request: web.Request) -> ProblemError | None:
    """A 414 or 431 for a request within the parser's hard cap but past the policy."""
    if len(request.raw_path) > MAX_TARGET_BYTES:
        return ProblemError(
            414, "URI Too Long", "The request target is too long.", limit=MAX_TARGET_BYTES
        )
    sizes = [len(name) + len(value) for name, value in request.raw_headers]
    if len(sizes) > MAX_HEADERS:
        return _too_many_fields(f"At most {MAX_HEADERS} header fields.", MAX_HEADERS)
    if max(sizes, default=0) > MAX_HEADER_FIELD_BYTES:
        return _too_many_fields("A header field is too large.", MAX_HEADER_FIELD_BYTES)
    if sum(sizes) > MAX_HEADER_BYTES:
        return _too_many_fields("The header fields are too large together.", MAX_HEADER_BYTES)
    return None


def _too_many_fields(detail: str, limit: int) -> ProblemError:
    return ProblemError(431, "Request Header Fields Too Large", detail, limit=limit)


async def read_json(request: web.Request) -> Any:
    """A JSON body within MAX_JSON_BYTES, MAX_JSON_DEPTH and MAX_JSON_INT_DIGITS (the json module
    would otherwise recurse until RecursionError and convert 4,300-digit integers)."""
    if request.content_type != "application/json":
        raise ProblemError(415, "Unsupported Media Type", "Send the body as application/json.")
    return parse_json(await read_bounded(request, MAX_JSON_BYTES))


async def read_bounded(request: web.Request, limit: int) -> bytes:
    if (request.content_length or 0) > limit:
        raise body_too_large(limit)
    data = bytearray()
    async for chunk in request.content.iter_chunked(limit + 1):
        data += chunk
        if len(data) > limit:
            raise body_too_large(limit)
    return bytes(data)


def body_too_large(limit: int) -> ProblemError:
    detail = f"The request body exceeds {limit} bytes."
    return ProblemError(413, "Request body too large", detail, limit=limit)


def parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed() from exc
    if json_depth(text) > MAX_JSON_DEPTH:
        detail = f"JSON may nest at most {MAX_JSON_DEPTH} levels."
        raise ProblemError(422, "JSON nested too deeply", detail, limit=MAX_JSON_DEPTH)
    try:
        return json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity
        raise _malformed() from exc


def json_depth(text: str) -> int:
    """How deep brackets nest outside strings (an unbalanced text is malformed anyway)."""
    depth = deepest = 0
    for token in _JSON_TOKENS.findall(text):
        depth += _DEPTH_STEP.get(token, 0)
        deepest = max(deepest, depth)
    return deepest


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_JSON_INT_DIGITS:
        detail = f"JSON integers may have at most {MAX_JSON_INT_DIGITS} digits."
        raise ProblemError(422, "JSON number too large", detail, limit=MAX_JSON_INT_DIGITS)
    return int(digits)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _malformed() -> ProblemError:
    return ProblemError(400, "Malformed JSON", "The request body is not valid UTF-8 JSON.")
