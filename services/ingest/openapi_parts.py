"""Building blocks of the OpenAPI document: problem answers, operations, path parameters."""

from __future__ import annotations

from typing import Any

from services.ingest.schemas import ID, ref

PROBLEM = {"application/problem+json": {"schema": ref("Problem")}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
_WHY = {
    400: "Malformed body or header",
    401: "No, expired or bad bearer token",
    403: "Not an admin",
    404: "No such project, video or upload (another user's included), or a malformed id",
    409: "The video failed; or Upload-Offset is not the upload's offset",
    412: "Tus-Resumable is missing or not 1.0.0",
    413: "Too large (body, upload, quota, highlights, a part header, or past Upload-Length)",
    414: "Request target too long",
    415: "Unsupported content type or part encoding; or not a video",
    422: "Well-formed but invalid",
    423: "Another request is writing to this upload",
    429: "Too many requests",
    431: "Header fields too large",
    460: "Upload-Checksum does not match the chunk (not kept)",
    503: "A backing service does not answer",
}
EVERYWHERE = (414, 431)
API = (401, 429, 503, *EVERYWHERE)


def problems(*statuses: int, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status in sorted(set(statuses)):
        answer: dict[str, Any] = {"description": _WHY[status], "content": PROBLEM}
        extra = (_RETRY_AFTER if status in (429, 503) else {}) | (headers or {})
        answers[str(status)] = answer | ({"headers": extra} if extra else {})
    return answers


def ok(status: str, schema: str, description: str = "Success") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": ref(schema)}},
        }
    }


def op(summary: str, answers: dict[str, Any], *more_problems: int, **more: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": answers | problems(*API, *more_problems), **more}


def path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID}
