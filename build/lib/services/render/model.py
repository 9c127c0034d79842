"""The plain data render passes between its parts (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from libs.media.highlights import Style


@dataclass(frozen=True)
class Signal:
    """A video's own signal: scene changes (time, score) and momentary loudness (time, LUFS)."""

    scene_changes: list[tuple[float, float]]
    loudness: list[tuple[float, float]]


@dataclass(frozen=True)
class FrameSize:
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> FrameSize:
        """'720x1280' -> FrameSize(720, 1280); both even (H.264 in yuv420p needs that)."""
        width, sep, height = text.lower().partition("x")
        if not (sep and width.isdigit() and height.isdigit()):
            raise ValueError(f"a frame size looks like 720x1280, not {text!r}")
        size = cls(int(width), int(height))
        if min(size.width, size.height) < 2 or size.width % 2 or size.height % 2:
            raise ValueError(f"frame size {text!r} must have even, positive sides")
        return size

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class EncodeJob:
    """One clip to cut from the source and encode in one style."""

    source: Path
    output: Path
    start: float
    length: float
    style: Style
    vertical: FrameSize
    preset: str
    with_audio: bool
