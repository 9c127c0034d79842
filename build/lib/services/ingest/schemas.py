"""The JSON schemas of ingest's answers (components of the OpenAPI document in openapi.py)."""

from __future__ import annotations

from typing import Any, get_args

from libs.media.highlights import Style
from libs.storage.keys import FileType

ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
STYLES: tuple[str, ...] = get_args(Style)
STATUSES = ["uploading", "stored", "rendering", "ready", "failed"]
_TEXT = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}
_MAYBE_TEXT = {"type": ["string", "null"]}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """Exactly these properties, all of them but `optional` required."""
    required = [name for name in properties if name not in optional]
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def _list_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return _object({key: {"type": "array", "items": item}})


_PROJECT = {"project_id": ID, "name": _TEXT, "created_at": _TEXT}
_VIDEO = {
    "video_id": ID,
    "status": {"enum": STATUSES},
    "r2_key": _TEXT,
    "filename": _MAYBE_TEXT,
    "size_bytes": {"type": ["integer", "null"], "minimum": 0},
    "content_type": _MAYBE_TEXT,
    "duration": {"type": ["number", "null"]},
    "error": _MAYBE_TEXT,
    "created_at": _TEXT,
    "updated_at": _TEXT,
    "url": _MAYBE_TEXT,
}
_CLIP = _object(
    {name: _MAYBE_TEXT for name in ("r2_key", "url", "thumbnail_r2_key", "thumbnail_url")}
    | {"title": _TEXT, "description": _TEXT, "style": {"enum": list(STYLES)}}
    | {"start": {"type": "number"}, "end": {"type": "number"}, "size_bytes": _INT}
)
_RECORD = _object(
    {"object_key": _TEXT, "project_id": _MAYBE_TEXT, "user_id": _TEXT, "scene_id": _MAYBE_TEXT}
    | {"file_type": {"enum": list(get_args(FileType))}, "size_bytes": _INT}
    | {"content_type": _TEXT, "metadata": {"type": "object"}}
    | {"created_at": _TEXT, "updated_at": _TEXT}
)
_USAGE = _object({"user_id": _TEXT, "project_id": _MAYBE_TEXT, "bytes": _INT, "objects": _INT})

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457; other members carry the facts (limit, allowed_methods, ...)",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": _TEXT,
            "title": _TEXT,
            "detail": _TEXT,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
        },
    },
    "Alive": _object({"status": {"const": "ok"}}),
    "Ready": _object({"status": {"const": "ready"}, "checks": {"type": "array", "items": _TEXT}}),
    "Document": {"type": "object", "required": ["openapi", "paths"]},
    "Project": _object(_PROJECT),
    "ProjectList": _list_of("projects", ref("Project")),
    "ProjectDetail": _object(_PROJECT | {"videos": {"type": "array", "items": ref("Video")}}),
    "Accepted": _object({"video_id": ID, "r2_key": _TEXT, "status": {"const": "stored"}}),
    "Video": _object(_VIDEO),
    "ClipList": _list_of("clips", _CLIP),
    "Processing": _object({"detail": _TEXT, "status": {"enum": STATUSES}}),
    "RecordPage": _object(
        {"project_id": ID, "count": {"type": ["integer", "null"], "minimum": 0}}
        | {"paths": {"type": "array", "items": _RECORD}, "next_cursor": _MAYBE_TEXT}
    ),
    "Report": {"type": "object", "description": "The statistics of the run"},
    "Usage": _object(
        {"group_by": {"enum": ["user", "project"]}, "usage": {"type": "array", "items": _USAGE}}
        | {"total": _object({"bytes": _INT, "objects": _INT})}
    ),
}
