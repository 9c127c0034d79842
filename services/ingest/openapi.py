"""The OpenAPI 3.1 document served at /api/v1/openapi.json: exactly what the server accepts and
answers (tests check it against the routes, the OpenAPI spec, and schemathesis runs)."""

from __future__ import annotations

from typing import Any

from libs.media.highlights import MAX_HIGHLIGHTS
from libs.web.bounds import MAX_JSON_BYTES
from services.ingest.openapi_operations import annotate
from services.ingest.openapi_parts import EVERYWHERE as _EVERYWHERE
from services.ingest.openapi_parts import PROBLEM as _PROBLEM
from services.ingest.openapi_parts import ok as _ok
from services.ingest.openapi_parts import op as _op
from services.ingest.openapi_parts import path as _path
from services.ingest.openapi_parts import problems as _problems
from services.ingest.openapi_tus import TUS_PATHS
from services.ingest.schemas import SCHEMAS, STYLES
from services.ingest.service import MAX_NAME
from services.ingest.uploads import MAX_HIGHLIGHTS_BYTES


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_PROJECT_ID, _VIDEO_ID = _path("project_id"), _path("video_id")
_PRINTABLE = {"type": "string", "pattern": "^[\\x20-\\x7e]{0,1024}$"}
_FLAG = {"type": "boolean"}
_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_NAME,
    "pattern": "\\S",
    "description": "Trimmed; no control characters",
}
_FILENAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[^/\\\\]+$",
    "description": "A plain file name (kept for display); no control characters",
}
_HIGHLIGHT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["start", "end", "title"],
    "properties": {
        "start": {"type": "number", "minimum": 0},
        "end": {"type": "number", "exclusiveMinimum": 0, "description": "After start"},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 2000},
        "styles": {
            "type": "array",
            "items": {"enum": list(STYLES)},
            "minItems": 1,
            "maxItems": len(STYLES),
            "uniqueItems": True,
        },
    },
}
_HIGHLIGHTS = {
    "type": "array",
    "maxItems": MAX_HIGHLIGHTS,
    "items": _HIGHLIGHT,
    "description": f"At most {MAX_HIGHLIGHTS_BYTES} bytes; within the video, not overlapping",
}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "video/*": _BINARY,
        "application/octet-stream": _BINARY,
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "additionalProperties": False,
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "highlights": _HIGHLIGHTS,
                },
            },
            "encoding": {
                "file": {"contentType": "video/*"},
                "highlights": {"contentType": "application/json"},
            },
        },
    },
}
_NEW_PROJECT = {
    "required": True,
    "description": f"At most {MAX_JSON_BYTES} bytes",
    "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["name"], "properties": {"name": _NAME}}
        }
    },
}
_HEALTH: dict[str, Any] = {"security": [], "responses": _problems(*_EVERYWHERE)}

PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "Liveness",
            **_HEALTH,
            "responses": _ok("200", "Alive") | _HEALTH["responses"],
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness of NATS, storage and tracking",
            **_HEALTH,
            "responses": _ok("200", "Ready") | _problems(503, *_EVERYWHERE),
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            **_HEALTH,
            "responses": _ok("200", "Document") | _HEALTH["responses"],
        }
    },
    "/api/v1/projects": {
        "post": _op(
            "Create a project",
            _ok("201", "Project", "Created"),
            400,
            413,
            415,
            422,
            requestBody=_NEW_PROJECT,
        ),
        "get": _op("List your projects", _ok("200", "ProjectList")),
    },
    "/api/v1/projects/{project_id}": {
        "parameters": [_PROJECT_ID],
        "get": _op("A project and its videos", _ok("200", "ProjectDetail"), 404),
        "delete": _op(
            "Delete a project; its objects and records go in the background",
            {"204": {"description": "Deleted"}},
            404,
        ),
    },
    "/api/v1/projects/{project_id}/videos": {
        "parameters": [_PROJECT_ID, _query("filename", _FILENAME, "For a raw body")],
        "post": _op(
            "Upload a video (raw body, or multipart with file and highlights)",
            _ok("202", "Accepted", "Received; stored and rendered in the background"),
            400,
            404,
            413,
            415,
            422,
            requestBody=_UPLOAD_BODY,
        ),
    },
    "/api/v1/projects/{project_id}/videos/{video_id}": {
        "parameters": [_PROJECT_ID, _VIDEO_ID],
        "get": _op("A video's status and URL", _ok("200", "Video"), 404),
    },
    "/api/v1/projects/{project_id}/videos/{video_id}/clips": {
        "parameters": [_PROJECT_ID, _VIDEO_ID],
        "get": _op(
            "A ready video's clips with URLs; 202 while it is processed",
            _ok("200", "ClipList") | _ok("202", "Processing", "Still being processed"),
            404,
            409,
        ),
    },
}


_FLAG = {"type": "boolean"}
_SEQ = {
    "name": "seq",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
}
_ADMIN = "Admin only (role admin), else 403."
_REPORT = _ok("200", "Report")
DEBUG_PATHS: dict[str, Any] = {
    "/api/v1/debug/r2-file-paths/{project_id}": {
        "parameters": [
            _PROJECT_ID,
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100"),
            _query("cursor", _PRINTABLE, "next_cursor of the page before"),
        ],
        "get": _op(f"A project's records. {_ADMIN}", _ok("200", "RecordPage"), 403, 404, 422),
    },
    "/api/v1/debug/cleanup-project/{project_id}": {
        "parameters": [
            _PROJECT_ID,
            _query("dry_run", _FLAG, "default true"),
            _query("delete_records_only", _FLAG, "default false"),
            _query(
                "user_id",
                {"type": "string", "pattern": "^[A-Za-z0-9_-]{0,64}$"},
                "the owner, when neither records nor a tombstone know it",
            ),
        ],
        "post": _op(f"Clean a project by hand. {_ADMIN}", _ok("200", "Report"), 403, 404, 422),
    },
    "/api/v1/debug/reconcile": {
        "parameters": [
            _query("dry_run", _FLAG, "default true"),
            _query("prefix", _PRINTABLE, "only keys under it"),
        ],
        "post": _op(
            f"Compare the bucket with the ledger. {_ADMIN}", _ok("200", "Report"), 403, 404, 422
        ),
    },
    "/api/v1/debug/dead-letters": {
        "parameters": [
            _query(
                "after",
                {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
                "list those after this seq",
            ),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100"),
        ],
        "get": _op(
            f"Messages that kept failing, oldest first. {_ADMIN}",
            _ok("200", "Report"),
            403,
            422,
            503,
        ),
        "delete": _op(f"Purge every dead letter. {_ADMIN}", _ok("200", "Report"), 403, 503),
    },
    "/api/v1/debug/dead-letters/{seq}": {
        "parameters": [_SEQ],
        "get": _op(
            f"One dead letter: subject, error, headers, payload. {_ADMIN}",
            _ok("200", "Report"),
            403,
            404,
            422,
            503,
        ),
        "delete": _op(f"Purge one dead letter. {_ADMIN}", _REPORT, 403, 404, 422),
    },
    "/api/v1/debug/dead-letters/{seq}/replay": {
        "parameters": [_SEQ],
        "post": _op(
            f"Replay to its original subject with its headers, then remove. {_ADMIN}",
            _ok("200", "Report"),
            403,
            404,
            422,
            503,
        ),
    },
    "/api/v1/debug/storage-usage": {
        "parameters": [_query("group_by", {"enum": ["user", "project"]}, "default user")],
        "get": _op(f"Bytes and objects from the ledger. {_ADMIN}", _ok("200", "Usage"), 403, 422),
    },
}


_TEXT = {"schema": {"type": "string"}}
SEE_INSIDE_PATHS: dict[str, Any] = {
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (text format)",
            "security": [],
            "responses": {"200": {"description": "OK", "content": {"text/plain": _TEXT}}},
        }
    },
    "/docs": {
        "get": {
            "summary": "These docs, interactive (Swagger UI, served offline)",
            "security": [],
            "responses": {"200": {"description": "OK", "content": {"text/html": _TEXT}}},
        }
    },
    "/docs/{asset}": {
        "parameters": [{"name": "asset", "in": "path", "required": True, "schema": _TEXT}],
        "get": {
            "summary": "A Swagger UI asset (script, stylesheet, icon)",
            "security": [],
            "responses": {
                "200": {"description": "The file"},
                "404": {"description": "No such asset", "content": _PROBLEM},
            },
        },
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "cliptrail", "version": "1.0.0"},
        "paths": annotate(PATHS | TUS_PATHS | DEBUG_PATHS | SEE_INSIDE_PATHS),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }
