"""Which clips a render makes, in which order, under which keys (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass

from libs.errors import PermanentError
from libs.media.highlights import Highlight, Style
from libs.media.probe import MediaInfo
from libs.messaging.events import RenderRequest
from libs.storage.keys import InvalidKeyError, clip_key, clip_stem, parse_key, thumbnail_key
from services.render.model import FrameSize

# A highlight that keeps less than this after clamping to the video holds no real clip.
MIN_CLIP_SECONDS = 0.5


@dataclass(frozen=True)
class ClipPlan:
    number: int  # the highlight's, from 01 in time order
    style_number: int  # from 01 in the highlight's own style order
    style: Style
    highlight: Highlight
    stem: str
    clip_key: str
    thumbnail_key: str
    size: FrameSize

    @property
    def scene_id(self) -> str:
        return scene_id(self.number)

    @property
    def length(self) -> float:
        return self.highlight.end - self.highlight.start


def scene_id(number: int) -> str:
    return f"highlight-{number:02d}"


def check_source_key(request: RenderRequest) -> None:
    """The source must be this very video's source object."""
    try:
        parsed = parse_key(request.source_key)
    except InvalidKeyError as exc:
        raise PermanentError(str(exc)) from exc
    owner = (parsed.file_type, parsed.user_id, parsed.project_id, parsed.video_id)
    if owner != ("source", request.user_id, request.project_id, request.video_id):
        raise PermanentError("source_key is not this video's source")


def clamp_highlights(highlights: list[Highlight], duration: float) -> list[Highlight]:
    """Time-ordered, each end cut to the real duration, those left (almost) empty dropped."""
    kept = []
    for highlight in sorted(highlights, key=lambda h: h.start):
        end = min(highlight.end, duration)
        if end - highlight.start >= MIN_CLIP_SECONDS:
            kept.append(highlight.model_copy(update={"end": end}))
    if not kept:
        raise PermanentError("no highlight lies within the video")
    return kept


def output_size(style: Style, source: MediaInfo, vertical: FrameSize) -> FrameSize:
    """`original` keeps the source's frame (cut to even sides); the others are 9:16 frames."""
    if style == "original":
        return FrameSize(source.width // 2 * 2, source.height // 2 * 2)
    return vertical


def plan_clips(
    request: RenderRequest, highlights: list[Highlight], source: MediaInfo, vertical: FrameSize
) -> list[ClipPlan]:
    return [
        _plan(request, number, highlight, style_number, style, output_size(style, source, vertical))
        for number, highlight in enumerate(highlights, 1)
        for style_number, style in enumerate(highlight.styles, 1)
    ]


def _plan(
    request: RenderRequest,
    number: int,
    highlight: Highlight,
    style_number: int,
    style: Style,
    size: FrameSize,
) -> ClipPlan:
    ids = (request.user_id, request.project_id, request.video_id)
    stem = clip_stem(number, style_number, highlight.title, style)
    keys = clip_key(*ids, stem), thumbnail_key(*ids, stem)
    return ClipPlan(number, style_number, style, highlight, stem, *keys, size)
