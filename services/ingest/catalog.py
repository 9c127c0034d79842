"""The per-user catalog: one SQLite database per user under $CLIPTRAIL_DATA_DIR/cache/.

Every call runs in a worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from libs.keys import check_id

T = TypeVar("T")
_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS projects (
    project_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS videos (
    video_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(project_id),
    status TEXT NOT NULL,
    r2_key TEXT NOT NULL,
    filename TEXT,
    size_bytes INTEGER,
    content_type TEXT,
    duration REAL,
    highlights TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS videos_by_project ON videos(project_id);
"""
# Each entry brings a database from the version before it to its own number.
MIGRATIONS = (
    _SCHEMA_V1,
    "ALTER TABLE projects ADD COLUMN deleted_at TEXT;",
)
SCHEMA_VERSION = len(MIGRATIONS)


def _migrate(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.executescript(script)
        db.execute(f"PRAGMA user_version={number}")


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
    def __init__(self, cache_dir: Path) -> None:
        self._root = cache_dir / "users"

    def _path(self, user_id: str) -> Path:
        return self._root / check_id(user_id, "user_id") / "database.sqlite"

    @contextmanager
    def _connect(self, user_id: str) -> Iterator[sqlite3.Connection]:
        path = self._path(user_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path, timeout=10)) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            _migrate(db)
            yield db

    async def _run(self, user_id: str, work: Callable[[sqlite3.Connection], T]) -> T:
        def in_thread() -> T:
            with self._connect(user_id) as db:
                return work(db)

        return await asyncio.to_thread(in_thread)

    async def create_project(self, user_id: str, project: Project) -> None:
        row = (project.project_id, project.name, project.created_at)
        statement = f"INSERT INTO projects ({_columns(Project)}) VALUES (?,?,?)"
        await self._run(user_id, lambda db: db.execute(statement, row))

    async def list_projects(self, user_id: str) -> list[Project]:
        query = (
            f"SELECT {_columns(Project)} FROM projects WHERE deleted_at IS NULL "
            "ORDER BY created_at, project_id"
        )
        rows = await self._run(user_id, lambda db: db.execute(query).fetchall())
        return [Project(*row) for row in rows]

    async def get_project(self, user_id: str, project_id: str) -> Project | None:
        query = (
            f"SELECT {_columns(Project)} FROM projects WHERE project_id = ? AND deleted_at IS NULL"
        )
        row = await self._run(user_id, lambda db: db.execute(query, (project_id,)).fetchone())
        return Project(*row) if row else None

    async def mark_deleted(self, user_id: str, project_id: str) -> None:
        statement = "UPDATE projects SET deleted_at = ? WHERE project_id = ? AND deleted_at IS NULL"
        values = (now_iso(), project_id)
        await self._run(user_id, lambda db: db.execute(statement, values))

    async def add_video(self, user_id: str, video: Video) -> None:
        values = tuple(getattr(video, f.name) for f in fields(Video))
        marks = ",".join("?" * len(values))
        statement = f"INSERT INTO videos ({_columns(Video)}) VALUES ({marks})"
        await self._run(user_id, lambda db: db.execute(statement, values))

    async def list_videos(self, user_id: str, project_id: str) -> list[Video]:
        query = f"SELECT {_columns(Video)} FROM videos WHERE project_id = ? ORDER BY created_at"
        rows = await self._run(user_id, lambda db: db.execute(query, (project_id,)).fetchall())
        return [Video(*row) for row in rows]

    async def get_video(self, user_id: str, project_id: str, video_id: str) -> Video | None:
        query = f"SELECT {_columns(Video)} FROM videos WHERE project_id = ? AND video_id = ?"
        row = await self._run(
            user_id, lambda db: db.execute(query, (project_id, video_id)).fetchone()
        )
        return Video(*row) if row else None

    async def find_video(self, user_id: str, video_id: str) -> Video | None:
        query = f"SELECT {_columns(Video)} FROM videos WHERE video_id = ?"
        row = await self._run(user_id, lambda db: db.execute(query, (video_id,)).fetchone())
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
        values = (to, error, now_iso(), video_id, *from_)
        changed = await self._run(user_id, lambda db: db.execute(statement, values).rowcount)
        return bool(changed)
