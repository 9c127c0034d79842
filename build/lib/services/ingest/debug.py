"""Ingest's admin edge: /api/v1/debug (role admin); every answer comes from tracking, the
ledger's owner, over the bus."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from libs.errors import PermanentError, ProblemError
from libs.messaging.events import (
    CleanupCommand,
    DeadLetterAction,
    DeadLetterCommand,
    ReconcileCommand,
    RecordsQuery,
)
from libs.storage.tracking_client import TrackingClient
from services.ingest.handlers import principal_of


def require_admin(request: web.Request) -> None:
    if not principal_of(request).is_admin:
        raise ProblemError(403, "Forbidden", "The debug routes need a token with role admin.")


def query_flag(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false", "1", "0"):
        raise ProblemError(422, "Invalid query", f"'{name}' must be true or false.")
    return raw.lower() in ("true", "1")


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, str(default))
    # ASCII digits only: str.isdigit() admits "²", which int() refuses
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not low <= int(raw) <= high:
        raise ProblemError(422, "Invalid query", f"'{name}' must be from {low} to {high}.")
    return int(raw)


def query_text(request: web.Request, name: str, pattern: str = r"[\x20-\x7e]{0,1024}") -> str:
    raw = request.query.get(name, "")
    if not re.fullmatch(pattern, raw):
        raise ProblemError(422, "Invalid query", f"'{name}' has characters it may not hold.")
    return raw


@dataclass
class DebugHandlers:
    """The admin routes: the ledger of a project, cleanup, reconcile, usage."""

    tracking: TrackingClient

    async def file_paths(self, request: web.Request) -> web.Response:
        require_admin(request)
        project_id = request.match_info["project_id"]
        query = RecordsQuery(
            project_id=project_id,
            after=query_text(request, "cursor"),
            limit=query_int(request, "limit", 100, 1, 1000),
            with_count=True,
        )
        page = await _admin_call(self.tracking.records(query))
        paths = [record.model_dump(mode="json") for record in page.records]
        body = {"project_id": project_id, "count": page.count, "paths": paths}
        return web.json_response(body | {"next_cursor": page.next_cursor})

    async def cleanup_project(self, request: web.Request) -> web.Response:
        require_admin(request)
        command = CleanupCommand(
            project_id=request.match_info["project_id"],
            user_id=query_text(request, "user_id", r"[A-Za-z0-9_-]{0,64}") or None,
            dry_run=query_flag(request, "dry_run", True),
            delete_records_only=query_flag(request, "delete_records_only", False),
        )
        return web.json_response(await _admin_call(self.tracking.cleanup(command)))

    async def reconcile(self, request: web.Request) -> web.Response:
        require_admin(request)
        command = ReconcileCommand(
            prefix=query_text(request, "prefix"), dry_run=query_flag(request, "dry_run", True)
        )
        return web.json_response(await _admin_call(self.tracking.reconcile(command)))

    async def storage_usage(self, request: web.Request) -> web.Response:
        require_admin(request)
        group_by = request.query.get("group_by", "user")
        if group_by not in ("user", "project"):
            raise ProblemError(422, "Invalid query", "'group_by' must be user or project.")
        usage = await self.tracking.usage("project" if group_by == "project" else "user")
        rows = [row.model_dump() for row in usage]
        totals = {"bytes": sum(u.bytes for u in usage), "objects": sum(u.objects for u in usage)}
        return web.json_response({"group_by": group_by, "usage": rows, "total": totals})

    async def dead_letters(self, request: web.Request) -> web.Response:
        """GET: a page of them; DELETE: purge them all."""
        require_admin(request)
        if request.method == "DELETE":
            return await self._dead_letters(DeadLetterCommand(action="purge"))
        after = query_int(request, "after", 0, 0, MAX_SEQ)
        limit = query_int(request, "limit", 100, 1, 1000)
        return await self._dead_letters(DeadLetterCommand(after=after, limit=limit))

    async def dead_letter(self, request: web.Request) -> web.Response:
        """GET: one; DELETE: purge it; POST .../replay: replay it."""
        require_admin(request)
        seq = request.match_info["seq"]
        if not (seq.isascii() and seq.isdigit()) or not 1 <= int(seq) <= MAX_SEQ:
            raise ProblemError(422, "Invalid path", f"'seq' must be from 1 to {MAX_SEQ}.")
        actions: dict[str, DeadLetterAction] = {"GET": "show", "DELETE": "purge", "POST": "replay"}
        command = DeadLetterCommand(action=actions[request.method], seq=int(seq))
        return await self._dead_letters(command)

    async def _dead_letters(self, command: DeadLetterCommand) -> web.Response:
        reply = await _admin_call(self.tracking.dead_letters(command))
        return web.json_response(reply.model_dump(mode="json", include={"letters", "removed"}))


T = TypeVar("T")
MAX_SEQ = 2**63 - 1  # a stream sequence, as JetStream takes it


async def _admin_call(call: Awaitable[T]) -> T:
    """Tracking refuses unknown or invalid projects as permanent errors: not found here."""
    try:
        return await call
    except PermanentError as exc:
        raise ProblemError(404, "Not Found", str(exc)) from exc
