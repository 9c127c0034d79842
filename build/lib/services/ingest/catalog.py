"""The per-user catalog: projects and videos, one SQLite database per user.

Every call is a unit of work (catalog_sync.py): it runs in a worker thread so the event loop
never waits on the disk, and a call that writes is synced to the bucket before it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from services.ingest.catalog_sync import CatalogUnits


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Project:
    project_id: str
    name: str
    created_at: str


@dataclass(frozen=True)
class Video:
    video_id: str
    project_id: str
    status: str
    r2_key: str
    filename: str | None
    size_bytes: int | None
    content_type: str | None
    duration: float | None
    highlights: str | None
    error: str | None
    created_at: str
    updated_at: str


def _columns(cls: type[Any]) -> str:
    return ", ".join(f.name for f in fields(cls))


class Catalog:
    def __init__(self, units: CatalogUnits) -> None:
        self._units = units

    async def _one(self, user_id: str, query: str, params: tuple[Any, ...]) -> Any:
        return await self._units.read(user_id, lambda db: db.execute(query, params).fetchone())

    async def _all(self, user_id: str, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return await self._units.read(user_id, lambda db: db.execute(query, params).fetchall())

    async def _change(self, user_id: str, statement: str, params: tuple[Any, ...]) -> int:
        """Run a write; it returns once the change is durable (in the bucket, when synced)."""
        changed: int = await self._units.write(
            user_id, lambda db: db.execute(statement, params).rowcount
        )
        return changed

    async def create_project(self, user_id: str, project: Project) -> None:
        row = (project.project_id, project.name, project.created_at)
        statement = f"INSERT INTO projects ({_columns(Project)}) VALUES (?,?,?)"
        await self._change(user_id, statement, row)

    async def list_projects(self, user_id: str) -> list[Project]:
        query = (
            f"SELECT {_columns(Project)} FROM projects WHERE deleted_at IS NULL "
            "ORDER BY created_at, project_id"
        )
        return [Project(*row) for row in await self._all(user_id, query)]

    async def get_project(self, user_id: str, project_id: str) -> Project | None:
        query = (
            f"SELECT {_columns(Project)} FROM projects WHERE project_id = ? AND deleted_at IS NULL"
        )
        row = await self._one(user_id, query, (project_id,))
        return Project(*row) if row else None

    async def mark_deleted(self, user_id: str, project_id: str) -> None:
        statement = "UPDATE projects SET deleted_at = ? WHERE project_id = ? AND deleted_at IS NULL"
        await self._change(user_id, statement, (now_iso(), project_id))

    async def add_video(self, user_id: str, video: Video) -> None:
        values = tuple(getattr(video, f.name) for f in fields(Video))
        marks = ",".join("?" * len(values))
        statement = f"INSERT INTO videos ({_columns(Video)}) VALUES ({marks})"
        await self._change(user_id, statement, values)

    async def list_videos(self, user_id: str, project_id: str) -> list[Video]:
        query = f"SELECT {_columns(Video)} FROM videos WHERE project_id = ? ORDER BY created_at"
        return [Video(*row) for row in await self._all(user_id, query, (project_id,))]

    async def get_video(self, user_id: str, project_id: str, video_id: str) -> Video | None:
        query = f"SELECT {_columns(Video)} FROM videos WHERE project_id = ? AND video_id = ?"
        row = await self._one(user_id, query, (project_id, video_id))
        return Video(*row) if row else None

    async def find_video(self, user_id: str, video_id: str) -> Video | None:
        query = f"SELECT {_columns(Video)} FROM videos WHERE video_id = ?"
        row = await self._one(user_id, query, (video_id,))
        return Video(*row) if row else None

    async def move_video(
        self, user_id: str, video_id: str, to: str, from_: tuple[str, ...], error: str | None = None
    ) -> bool:
        """Change a video's status if it is in one of `from_`; False if it was not."""
        marks = ",".join("?" * len(from_))
        statement = (
            "UPDATE videos SET status = ?, error = ?, updated_at = ? "
            f"WHERE video_id = ? AND status IN ({marks})"
        )
        return bool(
            await self._change(user_id, statement, (to, error, now_iso(), video_id, *from_))
        )
