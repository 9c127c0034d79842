"""The OpenAPI 3.1 document served at /api/v1/openapi.json (a test keeps it in step with routes)."""

from __future__ import annotations

from typing import Any

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _problems(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "Problem", "content": _PROBLEM} for s in (401, *statuses)}


def _answers(ok: str, ok_schema: str, *problems: int) -> dict[str, Any]:
    return {ok: {"description": "Success", "content": _json(ok_schema)}} | _problems(*problems)


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
_PROJECT_ID = {"name": "project_id", "in": "path", "required": True, "schema": _ID}
_VIDEO_ID = {"name": "video_id", "in": "path", "required": True, "schema": _ID}
_HEALTH = {"200": {"description": "OK"}, "503": {"description": "Not ready", "content": _PROBLEM}}

_CLIP_FIELDS = ("r2_key", "url", "thumbnail_r2_key", "thumbnail_url", "title", "description")
SCHEMAS: dict[str, Any] = {
    "Any": {"type": "object"},
    "ClipList": {
        "type": "object",
        "properties": {
            "clips": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {name: {"type": ["string", "null"]} for name in _CLIP_FIELDS}
                    | {
                        "style": {"enum": ["original", "vertical", "blur", "split"]},
                        "start": {"type": "number"},
                        "end": {"type": "number"},
                        "size_bytes": {"type": "integer"},
                    },
                },
            }
        },
    },
    "Problem": {
        "type": "object",
        "properties": {k: {"type": "string"} for k in ("type", "title", "detail")}
        | {"status": {"type": "integer"}},
    },
    "Project": {
        "type": "object",
        "properties": {
            "project_id": _ID,
            "name": {"type": "string"},
            "created_at": {"type": "string"},
        },
    },
    "ProjectList": {
        "type": "object",
        "properties": {
            "projects": {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}
        },
    },
    "ProjectDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/Project"},
            {
                "properties": {
                    "videos": {"type": "array", "items": {"$ref": "#/components/schemas/Video"}}
                }
            },
        ]
    },
    "Accepted": {
        "type": "object",
        "properties": {"video_id": _ID, "r2_key": {"type": "string"}, "status": {"type": "string"}},
    },
    "Video": {
        "type": "object",
        "properties": {
            "video_id": _ID,
            "status": {"enum": ["uploading", "stored", "rendering", "ready", "failed"]},
            "r2_key": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "size_bytes": {"type": ["integer", "null"]},
            "content_type": {"type": ["string", "null"]},
            "error": {"type": ["string", "null"]},
        },
    },
}

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "video/*": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "highlights": {"type": "string", "description": "JSON list of highlights"},
                },
            }
        },
    },
}

PATHS: dict[str, Any] = {
    "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": _HEALTH}},
    "/readyz": {
        "get": {
            "summary": "Readiness of NATS, object store, MongoDB",
            "security": [],
            "responses": _HEALTH,
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1"}},
        }
    },
    "/api/v1/projects": {
        "post": {
            "summary": "Create a project",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string", "maxLength": 200}},
                        }
                    }
                },
            },
            "responses": _answers("201", "Project", 400, 422),
        },
        "get": {"summary": "List your projects", "responses": _answers("200", "ProjectList")},
    },
    "/api/v1/projects/{project_id}": {
        "parameters": [_PROJECT_ID],
        "get": {
            "summary": "A project and its videos",
            "responses": _answers("200", "ProjectDetail", 404),
        },
        "delete": {
            "summary": "Delete a project; its objects and records go in the background",
            "responses": {"204": {"description": "Deleted"}} | _problems(404, 503),
        },
    },
    "/api/v1/projects/{project_id}/videos": {
        "parameters": [
            _PROJECT_ID,
            {"name": "filename", "in": "query", "schema": {"type": "string"}},
        ],
        "post": {
            "summary": "Upload a video (raw body or multipart)",
            "requestBody": _UPLOAD_BODY,
            "responses": _answers("202", "Accepted", 404, 413, 415, 422, 503),
        },
    },
    "/api/v1/projects/{project_id}/videos/{video_id}": {
        "parameters": [_PROJECT_ID, _VIDEO_ID],
        "get": {"summary": "A video's status and URL", "responses": _answers("200", "Video", 404)},
    },
}


_FLAG = {"type": "boolean"}
_SEQ = {"name": "seq", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_ADMIN = "Admin only (role admin), else 403."
DEBUG_PATHS: dict[str, Any] = {
    "/api/v1/debug/r2-file-paths/{project_id}": {
        "parameters": [
            _PROJECT_ID,
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
            _query("cursor", {"type": "string"}, "next_cursor of the page before"),
        ],
        "get": {
            "summary": f"A project's records. {_ADMIN}",
            "responses": _answers("200", "Any", 403, 422),
        },
    },
    "/api/v1/debug/cleanup-project/{project_id}": {
        "parameters": [
            _PROJECT_ID,
            _query("dry_run", _FLAG, "default true"),
            _query("delete_records_only", _FLAG, "default false"),
            _query("user_id", _ID, "the owner, when neither records nor a tombstone know it"),
        ],
        "post": {
            "summary": f"Clean a project by hand. {_ADMIN}",
            "responses": _answers("200", "Any", 403, 404, 422, 503),
        },
    },
    "/api/v1/debug/reconcile": {
        "parameters": [
            _query("dry_run", _FLAG, "default true"),
            _query("prefix", {"type": "string"}),
        ],
        "post": {
            "summary": f"Compare the bucket with the ledger. {_ADMIN}",
            "responses": _answers("200", "Any", 403, 422, 503),
        },
    },
    "/api/v1/debug/dead-letters": {
        "parameters": [
            _query("after", {"type": "integer", "minimum": 0}, "list those after this seq"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
        ],
        "get": {
            "summary": f"Messages that kept failing, oldest first. {_ADMIN}",
            "responses": _answers("200", "Any", 403, 422, 503),
        },
        "delete": {
            "summary": f"Purge every dead letter. {_ADMIN}",
            "responses": _answers("200", "Any", 403, 503),
        },
    },
    "/api/v1/debug/dead-letters/{seq}": {
        "parameters": [_SEQ],
        "get": {
            "summary": f"One dead letter: subject, error, headers, payload. {_ADMIN}",
            "responses": _answers("200", "Any", 403, 404, 422, 503),
        },
        "delete": {
            "summary": f"Purge one dead letter. {_ADMIN}",
            "responses": _answers("200", "Any", 403, 404, 422, 503),
        },
    },
    "/api/v1/debug/dead-letters/{seq}/replay": {
        "parameters": [_SEQ],
        "post": {
            "summary": f"Replay to its original subject with its headers, then remove. {_ADMIN}",
            "responses": _answers("200", "Any", 403, 404, 422, 503),
        },
    },
    "/api/v1/debug/storage-usage": {
        "parameters": [_query("group_by", {"enum": ["user", "project"]}, "default user")],
        "get": {
            "summary": f"Bytes and objects from the ledger. {_ADMIN}",
            "responses": _answers("200", "Any", 403, 422),
        },
    },
}


CLIP_PATHS: dict[str, Any] = {
    "/api/v1/projects/{project_id}/videos/{video_id}/clips": {
        "parameters": [_PROJECT_ID, _VIDEO_ID],
        "get": {
            "summary": "A ready video's clips with URLs; 202 while it is processed",
            "responses": _answers("200", "ClipList", 404, 409)
            | {"202": {"description": "Video is still being processed"}},
        },
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "cliptrail", "version": "1.0.0"},
        "paths": PATHS | CLIP_PATHS | DEBUG_PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }
