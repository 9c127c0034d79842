"""Each operation's operationId and example, kept apart from the document's shapes so either can
change alone; `annotate` fails loudly for an operation this table does not know."""

from __future__ import annotations

from typing import Any

_PROJECT = {"project_id": "p_8Hq2x", "name": "Holiday", "created_at": "2026-05-01T09:30:00Z"}
_KEY = "users/alice/projects/p_8Hq2x/videos/v_Z1k9/source.mp4"
_VIDEO = {
    "video_id": "v_Z1k9",
    "status": "ready",
    "r2_key": _KEY,
    "url": "https://cdn.example.com/" + _KEY,
    "size_bytes": 7340032,
    "content_type": "video/mp4",
    "error": None,
}
_CLIP = {
    "r2_key": "users/alice/projects/p_8Hq2x/videos/v_Z1k9/clips/clip_01_02_goal_vertical.mp4",
    "url": "https://cdn.example.com/clip_01_02_goal_vertical.mp4",
    "thumbnail_r2_key": "users/alice/projects/p_8Hq2x/videos/v_Z1k9/clips/"
    "clip_01_02_goal_vertical.jpg",
    "thumbnail_url": "https://cdn.example.com/clip_01_02_goal_vertical.jpg",
    "title": "Goal",
    "description": "The winning goal",
    "style": "vertical",
    "start": 12.0,
    "end": 27.5,
    "size_bytes": 1048576,
}
_NOT_FOUND = {
    "type": "about:blank",
    "title": "Not Found",
    "status": 404,
    "detail": "No such project.",
}
_TUS = "/api/v1/projects/{project_id}/uploads/{upload_id}"
_OFFSET_MISMATCH = {
    "type": "about:blank",
    "title": "Offset mismatch",
    "status": 409,
    "detail": "The upload is at offset 5242880, not 0.",
    "offset": 5242880,
}
_RECORD = {"object_key": _KEY, "file_type": "source", "size_bytes": 7340032}
_CLEANUP = {"tracked_keys": 5, "fallback_keys": 0, "deleted_objects": 5, "deleted_records": 5}

# (path, method) -> (operationId, status whose answer carries the example, the example)
_LETTER = {
    "seq": 7,
    "subject": "cliptrail.work.tracking.cleanup",
    "error": "malformed CleanupRequest: project_id: Field required",
}
OPERATIONS: dict[tuple[str, str], tuple[str, str, Any]] = {
    ("/healthz", "get"): ("getHealth", "200", {"status": "ok"}),
    ("/readyz", "get"): ("getReadiness", "200", {"status": "ready", "checks": ["nats"]}),
    ("/metrics", "get"): ("getMetrics", "200", "cliptrail_http_requests_total{...} 3.0\n"),
    ("/docs", "get"): ("getApiDocs", "200", "<!doctype html>..."),
    ("/docs/{asset}", "get"): ("getApiDocsAsset", "404", _NOT_FOUND | {"detail": "No such file."}),
    ("/api/v1/openapi.json", "get"): ("getOpenApi", "200", {"openapi": "3.1.0"}),
    ("/api/v1/projects", "post"): ("createProject", "201", _PROJECT),
    ("/api/v1/projects", "get"): ("listProjects", "200", {"projects": [_PROJECT]}),
    ("/api/v1/projects/{project_id}", "get"): (
        "getProject", "200", _PROJECT | {"videos": [_VIDEO]}
    ),
    ("/api/v1/projects/{project_id}", "delete"): ("deleteProject", "404", _NOT_FOUND),
    ("/api/v1/projects/{project_id}/videos", "post"): (
        "uploadVideo", "202", {"video_id": "v_Z1k9", "r2_key": _KEY, "status": "uploading"}
    ),
    ("/api/v1/projects/{project_id}/videos/{video_id}", "get"): ("getVideo", "200", _VIDEO),
    ("/api/v1/projects/{project_id}/videos/{video_id}/clips", "get"): (
        "listClips", "200", {"clips": [_CLIP]}
    ),
    ("/api/v1/projects/{project_id}/uploads", "options"): ("tusOptions", "204", None),
    ("/api/v1/projects/{project_id}/uploads", "post"): ("tusCreateUpload", "201", None),
    (_TUS, "head"): ("tusUploadOffset", "200", None),
    (_TUS, "patch"): ("tusAppendChunk", "409", _OFFSET_MISMATCH),
    (_TUS, "delete"): ("tusTerminateUpload", "404", _NOT_FOUND | {"detail": "No such upload."}),
    ("/api/v1/debug/r2-file-paths/{project_id}", "get"): (
        "debugFilePaths", "200", {"project_id": "p_8Hq2x", "count": 1, "paths": [_RECORD]}
    ),
    ("/api/v1/debug/cleanup-project/{project_id}", "post"): (
        "debugCleanupProject", "200", _CLEANUP | {"failed": []}
    ),
    ("/api/v1/debug/reconcile", "post"): (
        "debugReconcile", "200", {"prefix": "users/", "dry_run": True, "counts": {"untracked": 0}}
    ),
    ("/api/v1/debug/dead-letters", "get"): ("debugListDeadLetters", "200", {"letters": [_LETTER]}),
    ("/api/v1/debug/dead-letters", "delete"): ("debugPurgeDeadLetters", "200", {"removed": 3}),
    ("/api/v1/debug/dead-letters/{seq}", "get"): (
        "debugShowDeadLetter", "200", {"letters": [_LETTER]}
    ),
    ("/api/v1/debug/dead-letters/{seq}", "delete"): (
        "debugPurgeDeadLetter", "200", {"removed": 1}
    ),
    ("/api/v1/debug/dead-letters/{seq}/replay", "post"): (
        "debugReplayDeadLetter", "200", {"removed": 1}
    ),
    ("/api/v1/debug/storage-usage", "get"): (
        "debugStorageUsage", "200", {"group_by": "user", "usage": [{"user_id": "alice"}]}
    ),
}  # fmt: skip

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def annotate(paths: dict[str, Any]) -> dict[str, Any]:
    """Each operation with its operationId and an example on one of its answers."""
    return {path: _annotated(path, item) for path, item in paths.items()}


def _annotated(path: str, item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    for method in (m for m in _METHODS if m in item):
        operation_id, status, example = OPERATIONS[(path, method)]
        operation = dict(item[method], operationId=operation_id)
        operation["responses"] = _with_example(operation["responses"], status, example)
        out[method] = operation
    return out


HEADER_EXAMPLES = {
    "Tus-Resumable": "1.0.0",
    "Upload-Offset": "10485760",
    "Upload-Length": "20971520",
}


def _header_example(answer: dict[str, Any]) -> dict[str, Any]:
    headers = {
        name: dict(spec, example=HEADER_EXAMPLES[name]) if name in HEADER_EXAMPLES else spec
        for name, spec in answer.get("headers", {}).items()
    }
    return answer | {"headers": headers}


def _with_example(responses: dict[str, Any], status: str, example: Any) -> dict[str, Any]:
    """A header example when the answer has no body (tus answers are all headers)."""
    answer = dict(responses[status])
    if example is None:
        return responses | {status: _header_example(answer)}
    media = "application/json" if isinstance(example, dict) else "text/plain"
    content = answer.get("content") or {media: {}}
    answer["content"] = {kind: dict(body, example=example) for kind, body in content.items()}
    return responses | {status: answer}
