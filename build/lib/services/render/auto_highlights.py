"""Highlights picked from the video's own signal: scene-change density and loudness.

Every candidate window (on a half-second grid) scores the sum of its scene-change scores and
its mean momentary loudness, each scaled to 0..1 over all windows. The best window is taken
first, then the next best that neither overlaps a chosen one nor leaves too little room for
the ones still to come. The chosen windows come back in time order.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence

from libs.media.highlights import Highlight
from services.render.model import Signal

COUNT = 3
MIN_SECONDS = 15.0
MAX_SECONDS = 60.0
GRID_SECONDS = 0.5
SILENCE_LUFS = -70.0  # EBU R128's absolute gate: anything quieter counts as silence
AUTO_STYLES = ("original", "vertical")
_EPSILON = 1e-6
_SCENE = re.compile(r"lavfi\.scd\.score: (?P<score>[\d.]+), lavfi\.scd\.time: (?P<time>[\d.]+)")
_LOUDNESS = re.compile(r"\bt: *(?P<time>[\d.]+) +TARGET:.*?\bM: *(?P<lufs>-?\d+(?:\.\d+)?)")


def parse_scene_changes(stderr: str) -> list[tuple[float, float]]:
    """(time, score) of each change scdet logged."""
    return [(float(m["time"]), float(m["score"])) for m in _SCENE.finditer(stderr)]


def parse_loudness(stderr: str) -> list[tuple[float, float]]:
    """(time, momentary LUFS) of each 100 ms step ebur128 logged."""
    return [(float(m["time"]), float(m["lufs"])) for m in _LOUDNESS.finditer(stderr)]


def pick_highlights(duration: float, signal: Signal) -> list[Highlight]:
    if duration < MIN_SECONDS:
        return [_titled(1, 0.0, duration)]
    count = min(COUNT, int(duration // MIN_SECONDS))
    length = window_length(duration, count)
    starts = [i * GRID_SECONDS for i in range(int((duration - length) / GRID_SECONDS) + 1)]
    scores = window_scores(starts, length, signal)
    chosen = choose(starts, scores, length, count, duration)
    return [_titled(n, start, start + length) for n, start in enumerate(chosen, 1)]


def window_length(duration: float, count: int) -> float:
    """About a sixth of the video, within 15-60 s, short enough for `count` to fit, on the grid."""
    length = min(MAX_SECONDS, max(MIN_SECONDS, duration / 6), duration / count)
    return int(length / GRID_SECONDS + _EPSILON) * GRID_SECONDS


def window_scores(starts: Sequence[float], length: float, signal: Signal) -> list[float]:
    scenes = _window_sums(signal.scene_changes, starts, length, mean=False)
    levels = [(t, max(lufs, SILENCE_LUFS)) for t, lufs in signal.loudness]
    loudness = _window_sums(levels, starts, length, mean=True)
    return [a + b for a, b in zip(_scaled(scenes), _scaled(loudness), strict=True)]


def _window_sums(
    samples: Sequence[tuple[float, float]], starts: Sequence[float], length: float, mean: bool
) -> list[float]:
    """Sum (or mean) of the sample values with a time in [start, start + length)."""
    ordered = sorted(samples)
    times = [t for t, _ in ordered]
    prefix = [0.0, *itertools.accumulate(v for _, v in ordered)]
    sums = []
    for start in starts:
        low, high = bisect.bisect_left(times, start), bisect.bisect_left(times, start + length)
        total = prefix[high] - prefix[low]
        sums.append(total / (high - low) if mean and high > low else total)
    return sums


def _scaled(values: list[float]) -> list[float]:
    low, high = min(values, default=0.0), max(values, default=0.0)
    if high - low < _EPSILON:
        return [0.0] * len(values)
    return [(v - low) / (high - low) for v in values]


def choose(
    starts: Sequence[float], scores: Sequence[float], length: float, count: int, duration: float
) -> list[float]:
    """Best first; ties go to the earlier window."""
    chosen: list[float] = []
    for index in sorted(range(len(starts)), key=lambda i: (-scores[i], starts[i])):
        if len(chosen) == count:
            break
        if fits([*chosen, starts[index]], length, count, duration):
            chosen.append(starts[index])
    return sorted(chosen)


def fits(starts: list[float], length: float, count: int, duration: float) -> bool:
    """These windows do not overlap, and the gaps between them still hold the rest."""
    edges = [0.0, *itertools.chain.from_iterable((s, s + length) for s in sorted(starts))]
    gaps = list(zip(edges[::2], [*edges[1::2], duration], strict=True))
    if any(end < begin - _EPSILON for begin, end in gaps):
        return False
    room = sum(int((end - begin + _EPSILON) // length) for begin, end in gaps)
    return len(starts) + room >= count


def _titled(number: int, start: float, end: float) -> Highlight:
    return Highlight(
        start=round(start, 3), end=round(end, 3), title=f"Highlight {number}", styles=AUTO_STYLES
    )
