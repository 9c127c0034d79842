"""Highlights: the clips a user asks for, validated against the real video."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from libs.errors import InvalidError

Style = Literal["original", "vertical", "blur", "split"]
MAX_HIGHLIGHTS = 20


def _default_styles() -> list[Style]:
    return ["original"]


class Highlight(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    start: float = Field(ge=0)
    end: float = Field(gt=0)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    styles: list[Style] = Field(default_factory=_default_styles, min_length=1, max_length=4)

    @model_validator(mode="after")
    def _ordered(self) -> Highlight:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if len(set(self.styles)) != len(self.styles):
            raise ValueError("styles must not repeat")
        return self


_HIGHLIGHTS = TypeAdapter(list[Highlight])


def _unprocessable(detail: str) -> InvalidError:
    return InvalidError(detail, title="Invalid highlights")


def parse_highlights(raw: bytes | str) -> list[Highlight]:
    try:
        highlights = _HIGHLIGHTS.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(map(str, first["loc"]))
        raise _unprocessable(f"{where}: {first['msg']}") from exc
    if len(highlights) > MAX_HIGHLIGHTS:
        raise _unprocessable(f"at most {MAX_HIGHLIGHTS} highlights are allowed")
    return highlights


def check_against_duration(highlights: list[Highlight], duration: float) -> None:
    """No highlight may start past the end of the video or overlap another."""
    ordered = sorted(highlights, key=lambda h: h.start)
    for index, highlight in enumerate(ordered):
        if duration > 0 and highlight.start >= duration:
            raise _unprocessable(f"highlight {highlight.title!r} starts past the video's end")
        if index and highlight.start < ordered[index - 1].end:
            raise _unprocessable(f"highlight {highlight.title!r} overlaps the one before it")


def dump_highlights(highlights: list[Highlight]) -> str:
    return _HIGHLIGHTS.dump_json(highlights).decode()
