"""highlights.json: what a render produced; its presence in the bucket means the video is ready."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from libs.media.highlights import Highlight
from libs.media.probe import MediaInfo
from libs.messaging.events import RenderRequest
from services.render.plan import ClipPlan, scene_id

VERSION = 1


@dataclass(frozen=True)
class RenderedClip:
    plan: ClipPlan
    probe: MediaInfo
    size_bytes: int
    thumbnail_size_bytes: int


@dataclass(frozen=True)
class RenderSettings:
    preset: str
    vertical_size: str
    ffmpeg_version: str
    picked_by: str  # "request" or "render" (auto highlights)


def public_url(base: str, key: str) -> str | None:
    """A lasting URL only where the bucket is public; presigned URLs expire, so none are kept."""
    return f"{base.rstrip('/')}/{quote(key)}" if base else None


def build_manifest(
    request: RenderRequest,
    highlights: list[Highlight],
    clips: list[RenderedClip],
    settings: RenderSettings,
    public_base: str,
) -> dict[str, Any]:
    return {
        "version": VERSION,
        "user_id": request.user_id,
        "project_id": request.project_id,
        "video_id": request.video_id,
        "source_key": request.source_key,
        "video_url": public_url(public_base, request.source_key),
        "render": {"video_codec": "h264", "audio_codec": "aac", **vars(settings)},
        "highlights": [
            _highlight_entry(number, highlight, clips, public_base)
            for number, highlight in enumerate(highlights, 1)
        ],
    }


def _highlight_entry(
    number: int, highlight: Highlight, clips: list[RenderedClip], public_base: str
) -> dict[str, Any]:
    return {
        "number": number,
        "scene_id": scene_id(number),
        **highlight.model_dump(mode="json"),
        "clips": [_clip_entry(c, public_base) for c in clips if c.plan.number == number],
    }


def _clip_entry(clip: RenderedClip, public_base: str) -> dict[str, Any]:
    plan = clip.plan
    return {
        "style": plan.style,
        "style_number": plan.style_number,
        "key": plan.clip_key,
        "thumbnail_key": plan.thumbnail_key,
        "url": public_url(public_base, plan.clip_key),
        "thumbnail_url": public_url(public_base, plan.thumbnail_key),
        "width": clip.probe.width,
        "height": clip.probe.height,
        "duration": clip.probe.duration,
        "size_bytes": clip.size_bytes,
        "thumbnail_size_bytes": clip.thumbnail_size_bytes,
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, indent=2, ensure_ascii=False).encode()
