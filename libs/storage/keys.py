"""The object key layout. This module is the only place that formats or parses keys."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Literal

from libs.errors import PermanentError

# "partial": the bytes of a resumable upload past its last whole part (services/ingest/resumable.py)
FileType = Literal["source", "highlights", "clip", "thumbnail", "database", "partial"]

ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_ID = re.compile(rf"\A{ID_PATTERN}\Z")
SOURCE_EXTENSIONS = frozenset({"mp4", "mov", "mkv", "webm", "avi", "m4v"})
STYLES = ("original", "vertical", "blur", "split")

_USER = rf"users/(?P<user_id>{ID_PATTERN})/"
_VIDEO = rf"{_USER}projects/(?P<project_id>{ID_PATTERN})/videos/(?P<video_id>{ID_PATTERN})/"
_NUMBER = r"(?:0[1-9]|[1-9]\d)"
_CLIP = (
    rf"clips/clip_(?P<nn>{_NUMBER})_(?P<vv>{_NUMBER})_(?P<slug>[a-z0-9-]{{1,40}})"
    rf"_(?P<style>{'|'.join(STYLES)})"
)
_EXTENSIONS = "|".join(sorted(SOURCE_EXTENSIONS))
_PATTERNS: tuple[tuple[FileType, re.Pattern[str]], ...] = (
    ("database", re.compile(rf"\A{_USER}database\.sqlite\Z")),
    ("source", re.compile(rf"\A{_VIDEO}source\.(?P<ext>{_EXTENSIONS})\Z")),
    ("highlights", re.compile(rf"\A{_VIDEO}highlights\.json\Z")),
    ("clip", re.compile(rf"\A{_VIDEO}{_CLIP}\.mp4\Z")),
    ("thumbnail", re.compile(rf"\A{_VIDEO}{_CLIP}\.jpg\Z")),
    ("partial", re.compile(rf"\A{_VIDEO}upload\.(?P<generation>\d{{1,12}})\.partial\Z")),
)


# Layout prefixes (what storage lists) and what a project's prefix scan may find and delete.
_PREFIXES = re.compile(
    rf"\A(?:users/{ID_PATTERN}/(?:projects/{ID_PATTERN}/(?:videos/{ID_PATTERN}/)?)?)?\Z"
)
_IN_PROJECT = re.compile(rf"\Ausers/{ID_PATTERN}/projects/{ID_PATTERN}/[\x20-\x7e]+\Z")


class InvalidKeyError(PermanentError):
    """A key or id that does not fit the layout: no retry will make it fit."""


@dataclass(frozen=True)
class ParsedKey:
    key: str
    file_type: FileType
    user_id: str
    project_id: str | None
    video_id: str | None


def is_valid_id(value: str) -> bool:
    return bool(_ID.match(value))


def check_id(value: str, what: str = "id") -> str:
    if not is_valid_id(value):
        raise InvalidKeyError(f"{what} must match {ID_PATTERN}")
    return value


def new_id() -> str:
    """A server-generated project or video id: 32 url-safe characters."""
    return secrets.token_hex(16)


def user_prefix(user_id: str) -> str:
    return f"users/{check_id(user_id, 'user_id')}/"


def project_prefix(user_id: str, project_id: str) -> str:
    return f"{user_prefix(user_id)}projects/{check_id(project_id, 'project_id')}/"


def video_prefix(user_id: str, project_id: str, video_id: str) -> str:
    return f"{project_prefix(user_id, project_id)}videos/{check_id(video_id, 'video_id')}/"


def database_key(user_id: str) -> str:
    return f"{user_prefix(user_id)}database.sqlite"


def source_key(user_id: str, project_id: str, video_id: str, ext: str) -> str:
    if ext not in SOURCE_EXTENSIONS:
        raise InvalidKeyError(f"source extension must be one of {sorted(SOURCE_EXTENSIONS)}")
    return f"{video_prefix(user_id, project_id, video_id)}source.{ext}"


def highlights_key(user_id: str, project_id: str, video_id: str) -> str:
    return f"{video_prefix(user_id, project_id, video_id)}highlights.json"


def partial_key(user_id: str, project_id: str, video_id: str, generation: int) -> str:
    """A resumable upload's pending tail; each PATCH writes its own (`generation`), so the one
    the upload's state names is never overwritten."""
    return f"{video_prefix(user_id, project_id, video_id)}upload.{generation}.partial"


def clip_stem(number: int, style_number: int, title: str, style: str) -> str:
    if style not in STYLES or not (1 <= number <= 99 and 1 <= style_number <= 99):
        raise InvalidKeyError("clip number, style number or style out of range")
    return f"clip_{number:02d}_{style_number:02d}_{slugify(title)}_{style}"


def clip_key(user_id: str, project_id: str, video_id: str, stem: str) -> str:
    return f"{video_prefix(user_id, project_id, video_id)}clips/{stem}.mp4"


def thumbnail_key(user_id: str, project_id: str, video_id: str, stem: str) -> str:
    return f"{video_prefix(user_id, project_id, video_id)}clips/{stem}.jpg"


def slugify(title: str, max_length: int = 40) -> str:
    """ASCII, lower-case, hyphen-separated; safe for any title (emoji, slashes, RTL)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "clip"


def check_prefix(prefix: str) -> str:
    """A listable prefix: a user's, a project's or a video's (with the trailing slash), or ""
    (the whole bucket, for reconcile); InvalidKeyError for anything else."""
    if not _PREFIXES.match(prefix):
        raise InvalidKeyError(f"not a cliptrail key prefix: {prefix[:200]!r}")
    return prefix


def is_deletable(key: str) -> bool:
    """A key of the layout, or any object inside a project's prefix (what a cleanup's prefix
    scan removes); nothing else in the bucket is cliptrail's to delete."""
    if _IN_PROJECT.match(key) and "/../" not in f"{key}/" and "//" not in key:
        return True
    try:
        parse_key(key)
    except InvalidKeyError:
        return False
    return True


def parse_key(key: str) -> ParsedKey:
    """The parts of a key that fits the layout; InvalidKeyError for anything else."""
    for file_type, pattern in _PATTERNS:
        match = pattern.match(key)
        if match:
            parts = match.groupdict()
            return ParsedKey(
                key, file_type, parts["user_id"], parts.get("project_id"), parts.get("video_id")
            )
    raise InvalidKeyError(f"not a cliptrail object key: {key[:200]!r}")
