"""Highlights: the DESIGN.md shape is accepted, anything else is a 422 problem."""

from __future__ import annotations

import json
from typing import Any

import pytest

from libs.errors import InvalidError
from libs.media.highlights import (
    MAX_HIGHLIGHTS,
    Highlight,
    check_against_duration,
    dump_highlights,
    parse_highlights,
)


def item(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "start": 1.5,
        "end": 4,
        "title": "Goal",
        "description": "The winning goal",
        "styles": ["original", "vertical"],
    }
    return {**base, **changes}


def raw(*items: dict[str, Any]) -> str:
    return json.dumps(list(items))


def assert_unprocessable(payload: str | bytes) -> InvalidError:
    with pytest.raises(InvalidError) as caught:
        parse_highlights(payload)
    assert caught.value.title == "Invalid highlights"
    return caught.value


def test_the_documented_shape_is_accepted() -> None:
    every_style = item(start=10, end=20, styles=["original", "vertical", "blur", "split"])
    parsed = parse_highlights(raw(item(), every_style))
    assert parsed[0] == Highlight(
        start=1.5, end=4.0, title="Goal", description="The winning goal",
        styles=["original", "vertical"],
    )  # fmt: skip
    assert parsed[1].styles == ["original", "vertical", "blur", "split"]


def test_bytes_are_accepted_and_optional_fields_default() -> None:
    parsed = parse_highlights(json.dumps([{"start": 0, "end": 1, "title": "t"}]).encode())
    assert parsed[0].description == ""
    assert parsed[0].styles == ["original"]


def test_an_empty_list_is_accepted() -> None:
    assert parse_highlights("[]") == []


def test_exactly_the_maximum_number_of_highlights_is_accepted() -> None:
    items = [item(start=i, end=i + 0.5) for i in range(MAX_HIGHLIGHTS)]
    assert len(parse_highlights(raw(*items))) == MAX_HIGHLIGHTS


def test_dump_then_parse_gives_the_same_highlights() -> None:
    parsed = parse_highlights(raw(item(), item(start=5, end=6, styles=["split"])))
    assert parse_highlights(dump_highlights(parsed)) == parsed


@pytest.mark.parametrize(
    "bad",
    [
        item(end=1.5),
        item(start=5, end=4),
        item(start=-1),
        item(styles=["sepia"]),
        item(styles=[]),
        item(styles=["blur", "blur"]),
        item(title=""),
        item(title="x" * 201),
        item(description="x" * 2001),
        item(colour="red"),
        item(start="soon"),
        {"end": 4, "title": "no start"},
        {"start": 0, "title": "no end"},
        {"start": 0, "end": 1},
    ],
    ids=[
        "end-equals-start", "end-before-start", "negative-start", "unknown-style",
        "no-styles", "repeated-styles", "empty-title", "long-title", "long-description",
        "extra-field", "string-start", "missing-start", "missing-end", "missing-title",
    ],
)  # fmt: skip
def test_invalid_items_are_unprocessable(bad: dict[str, Any]) -> None:
    assert_unprocessable(raw(bad))


def test_more_than_the_maximum_is_unprocessable() -> None:
    items = [item(start=i, end=i + 0.5) for i in range(MAX_HIGHLIGHTS + 1)]
    problem = assert_unprocessable(raw(*items))
    assert str(MAX_HIGHLIGHTS) in problem.detail


@pytest.mark.parametrize(
    "payload",
    [json.dumps(item()), '"text"', "42", "null", "{}", "", "[", "[{]", "not json", "[1, 2]"],
)
def test_non_list_or_malformed_json_is_unprocessable(payload: str) -> None:
    assert_unprocessable(payload)


def test_the_problem_detail_names_the_offending_item() -> None:
    problem = assert_unprocessable(raw(item(), item(start=10, end=11, styles=["sepia"])))
    assert problem.detail.startswith("1.styles")


def highlights(*spans: tuple[float, float]) -> list[Highlight]:
    return [Highlight(start=s, end=e, title=f"h{i}") for i, (s, e) in enumerate(spans)]


def test_highlights_inside_the_video_pass_in_any_order() -> None:
    check_against_duration(highlights((5, 8), (0, 2), (2, 5)), duration=10)


def test_a_highlight_starting_at_or_past_the_end_is_rejected() -> None:
    for start in (10, 12):
        with pytest.raises(InvalidError) as caught:
            check_against_duration(highlights((0, 2), (start, start + 1)), duration=10)
        assert "past the video's end" in caught.value.detail


@pytest.mark.parametrize(
    "spans",
    [((0, 5), (4, 6)), ((4, 6), (0, 5)), ((0, 10), (2, 3)), ((1, 2), (0, 9), (5, 6))],
)
def test_overlapping_highlights_are_rejected(spans: tuple[tuple[float, float], ...]) -> None:
    with pytest.raises(InvalidError) as caught:
        check_against_duration(highlights(*spans), duration=60)
    assert "overlaps" in caught.value.detail


@pytest.mark.parametrize("value", ["Infinity", "NaN", "-Infinity"])
def test_non_finite_times_are_422(value: str) -> None:
    with pytest.raises(InvalidError):
        parse_highlights(f'[{{"start": 0, "end": {value}, "title": "t"}}]')
