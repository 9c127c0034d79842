"""The catalog's SQLite file: schema and migrations, connections, snapshots, verification.

Plain blocking helpers; callers run them in worker threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from libs.storage.keys import check_id

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


class CorruptDatabaseError(Exception):
    """A file that is not a sound cliptrail catalog."""


def database_path(cache_dir: Path, user_id: str) -> Path:
    return cache_dir / "users" / check_id(user_id, "user_id") / "database.sqlite"


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection in one transaction (committed on success). The rollback journal, not WAL:
    after a commit the file alone is the whole database, ready to be swapped or snapshotted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=10)) as db, db:
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA foreign_keys=ON")
        yield db


def migrate(db: sqlite3.Connection) -> bool:
    """Bring the schema up to date; True if anything changed."""
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.executescript(script)
        db.execute(f"PRAGMA user_version={number}")
    return version < SCHEMA_VERSION


def snapshot(source: Path, dest: Path) -> None:
    """A consistent copy through SQLite's backup API."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(dest)) as copy:
        live.backup(copy)


def verify(path: Path) -> None:
    """CorruptDatabaseError unless `path` is a sound catalog of a schema this code knows."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise CorruptDatabaseError(f"not an SQLite database: {exc}") from exc
    if check != "ok" or not 1 <= version <= SCHEMA_VERSION or "projects" not in tables:
        raise CorruptDatabaseError(f"integrity {check!r}, schema version {version}")
