"""Auto highlights: parsing ffmpeg's analysis log and picking windows from the signal."""

from __future__ import annotations

import itertools

import pytest

from libs.media.highlights import Highlight
from services.render.auto_highlights import (
    choose,
    fits,
    parse_loudness,
    parse_scene_changes,
    pick_highlights,
    window_length,
)
from services.render.model import Signal

LOG = """\
[Parsed_scdet_2 @ 0x7f85e4010140] lavfi.scd.score: 26.278, lavfi.scd.time: 40
[Parsed_scdet_2 @ 0x7f85e4010140] lavfi.scd.score: 11.5, lavfi.scd.time: 52.4
[Parsed_ebur128_3 @ 0x7f85e40105c0] t: 0.0999773  TARGET:-23 LUFS    M:-120.7 S:-120.7     I: -70.0 LUFS       LRA:   0.0 LU
[Parsed_ebur128_3 @ 0x7f85e40105c0] t: 40.799977  TARGET:-23 LUFS    M:  -9.3 S: -15.1     I: -10.2 LUFS       LRA:  38.4 LU
[Parsed_ebur128_3 @ 0x7f85e40105c0] Summary:
    I:          -9.3 LUFS
"""  # noqa: E501


def quiet_then_loud(duration: float = 60.0, loud_from: float = 40.0) -> Signal:
    loudness = [(t / 10, -9.0 if t / 10 >= loud_from else -57.0) for t in range(int(duration * 10))]
    return Signal(scene_changes=[(loud_from, 26.0)], loudness=loudness)


def spans(highlights: list[Highlight]) -> list[tuple[float, float]]:
    return [(h.start, h.end) for h in highlights]


def test_parses_scene_changes_and_momentary_loudness() -> None:
    assert parse_scene_changes(LOG) == [(40.0, 26.278), (52.4, 11.5)]
    assert parse_loudness(LOG) == [(0.0999773, -120.7), (40.799977, -9.3)]


def test_a_video_shorter_than_fifteen_seconds_is_one_clip_of_the_whole() -> None:
    [whole] = pick_highlights(12.4, Signal([], []))
    assert (whole.start, whole.end, whole.title) == (0.0, 12.4, "Highlight 1")
    assert whole.styles == ["original", "vertical"]


@pytest.mark.parametrize(
    ("duration", "count"), [(15.0, 1), (29.9, 1), (30.0, 2), (44.9, 2), (45.0, 3), (7200.0, 3)]
)
def test_as_many_windows_as_fit_up_to_three(duration: float, count: int) -> None:
    picked = pick_highlights(duration, Signal([], []))
    assert [h.title for h in picked] == [f"Highlight {n}" for n in range(1, count + 1)]
    for before, after in itertools.pairwise(picked):
        assert before.end <= after.start
    for highlight in picked:
        assert 15.0 <= highlight.end - highlight.start <= 60.0
        assert highlight.start >= 0.0 and highlight.end <= duration


def test_window_length_is_a_sixth_within_bounds_and_on_the_grid() -> None:
    assert window_length(60.0, 3) == 15.0
    assert window_length(180.0, 3) == 30.0
    assert window_length(100.0, 3) == 16.5
    assert window_length(3600.0, 3) == 60.0
    assert window_length(46.0, 3) == 15.0


def test_the_scene_change_into_the_loud_part_is_picked() -> None:
    picked = pick_highlights(60.0, quiet_then_loud())
    assert (40.0, 55.0) in spans(picked)
    assert spans(picked) == sorted(spans(picked))


def test_loudness_alone_finds_the_loud_part() -> None:
    signal = Signal(scene_changes=[], loudness=quiet_then_loud(300.0, 200.0).loudness)
    starts = [h.start for h in pick_highlights(300.0, signal)]
    assert any(200.0 <= start <= 250.0 for start in starts)


def test_scene_changes_alone_find_the_busy_part() -> None:
    cuts = [(100.0 + 2 * i, 30.0) for i in range(10)]
    picked = pick_highlights(300.0, Signal(scene_changes=cuts, loudness=[]))
    busiest = max(picked, key=lambda h: sum(h.start <= t < h.end for t, _ in cuts))
    assert sum(busiest.start <= t < busiest.end for t, _ in cuts) == 10


def test_the_best_window_never_crowds_out_the_others() -> None:
    # The best window sits where a greedy pick would leave room for only two of three.
    scores = [1.0 if start == 10.0 else 0.0 for start in (i * 0.5 for i in range(61))]
    starts = [i * 0.5 for i in range(61)]
    chosen = choose(starts, scores, 15.0, 3, 45.0)
    assert chosen == [0.0, 15.0, 30.0]


def test_fits_refuses_overlaps_and_dead_ends() -> None:
    assert fits([0.0, 15.0], 15.0, 3, 45.0)
    assert not fits([0.0, 14.5], 15.0, 2, 45.0)
    assert not fits([10.0], 15.0, 3, 45.0)
