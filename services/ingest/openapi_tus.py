"""The tus 1.0 routes of the OpenAPI document: what services/ingest/tus.py accepts and answers
(every answer, problems included, carries Tus-Resumable)."""

from __future__ import annotations

from typing import Any

from services.ingest.openapi_parts import API, path, problems

_COUNT = {"type": "string", "pattern": "^[0-9]{1,18}$"}
_TEXT = {"type": "string", "pattern": "^[\\x20-\\x7e]{0,4096}$"}
_TUS = {"Tus-Resumable": {"description": "Always 1.0.0", "schema": {"const": "1.0.0"}}}
_PROGRESS = _TUS | {
    "Upload-Offset": {"description": "Bytes received and kept", "schema": _COUNT},
    "Upload-Expires": {"description": "When an unfinished upload is dropped", "schema": _TEXT},
    "Cliptrail-Video-Id": {"description": "Once finished: the video it became", "schema": _TEXT},
    "Cliptrail-Video-Location": {"description": "Once finished: the video's URL", "schema": _TEXT},
}


def _header(name: str, schema: dict[str, Any], description: str, required: bool = False) -> Any:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "schema": schema,
        "description": description,
    }


_VERSION = _header("Tus-Resumable", {"const": "1.0.0"}, "The tus version", required=True)
_OFFSET = _header("Upload-Offset", _COUNT, "Where this chunk starts", required=True)
_CHECKSUM = _header("Upload-Checksum", _TEXT, "`md5|sha1|sha256 base64digest` of this chunk")
_CREATE = [
    _VERSION,
    _header("Upload-Length", _COUNT, "The whole upload's size", required=True),
    _header("Upload-Metadata", _TEXT, "`key base64value` pairs: filename, highlights (JSON)"),
    _CHECKSUM,
]
_CHUNK = {
    "content": {
        "application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
}
_CHUNK_PROBLEMS = (400, 404, 409, 412, 413, 415, 422, 423, 460)


def _tus(summary: str, answers: dict[str, Any], *statuses: int, **more: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "responses": answers | problems(*API, *statuses, headers=_TUS),
        **more,
    }


def _answer(description: str, headers: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "headers": headers}


_LOCATION = {"Location": {"description": "The upload's URL", "schema": _TEXT}}
_SERVER = _TUS | {
    name: {"description": f"tus {name}", "schema": _TEXT}
    for name in ("Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm")
}
TUS_PATHS: dict[str, Any] = {
    "/api/v1/projects/{project_id}/uploads": {
        "parameters": [path("project_id")],
        "options": _tus("What this tus server supports", {"204": _answer("Capabilities", _SERVER)}),
        "post": _tus(
            "Start a resumable upload (tus creation; a first chunk may come along)",
            {"201": _answer("Created", _PROGRESS | _LOCATION)},
            *_CHUNK_PROBLEMS,
            parameters=_CREATE,
            requestBody=_CHUNK,
        ),
    },
    "/api/v1/projects/{project_id}/uploads/{upload_id}": {
        "parameters": [path("project_id"), path("upload_id")],
        "head": _tus(
            "A resumable upload's offset",
            {"200": _answer("Progress", _PROGRESS | {"Upload-Length": {"schema": _COUNT}})},
            404,
            412,
            parameters=[_VERSION],
        ),
        "patch": _tus(
            "Append a chunk at Upload-Offset (the last one finishes the video)",
            {"204": _answer("Kept", _PROGRESS)},
            *_CHUNK_PROBLEMS,
            parameters=[_VERSION, _OFFSET, _CHECKSUM],
            requestBody=_CHUNK | {"required": True},
        ),
        "delete": _tus(
            "Terminate a resumable upload", {"204": _answer("Gone", _TUS)}, 404, 412, 423,
            parameters=[_VERSION],
        ),
    },
}  # fmt: skip
