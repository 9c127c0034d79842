"""Ingest's input checks: filenames, project names and extensions."""

from __future__ import annotations

import pytest

from libs.errors import (
    CliptrailError,
    InvalidError,
    NotFoundError,
    PermanentError,
    StateError,
    TooLargeError,
    TransientError,
    UnavailableError,
)
from libs.media.probe import NotAVideoError
from services.ingest.handlers import to_problem
from services.ingest.service import MAX_NAME, check_filename, check_project_name, extension_of


@pytest.mark.parametrize("name", ["clip.mp4", "My Holiday (2).MOV", "שלום.mkv", "a" * 255, "x"])
def test_plain_filenames_are_kept_as_is(name: str) -> None:
    assert check_filename(name) == name


def test_no_filename_is_allowed() -> None:
    assert check_filename(None) is None


@pytest.mark.parametrize(
    "name",
    [
        "", ".", "..", "../x.mp4", "a/b.mp4", "/etc/passwd", "a\\b.mp4", "..\\x.mp4",
        "a" * 256, "a\x00.mp4", "a\n.mp4", "a\t.mp4", "evil\u202egpj.mp4", "zero\u200bwidth.mp4",
    ],
)  # fmt: skip
def test_path_like_or_odd_filenames_are_unprocessable(name: str) -> None:
    with pytest.raises(InvalidError):
        check_filename(name)


@pytest.mark.parametrize(
    ("filename", "extension"),
    [
        ("clip.mp4", "mp4"),
        ("CLIP.MP4", "mp4"),
        ("archive.tar.gz", "gz"),
        ("noextension", ""),
        ("trailing.", ""),
        (None, ""),
        ("", ""),
    ],
)
def test_extension_of_is_the_lowercased_last_suffix(filename: str | None, extension: str) -> None:
    assert extension_of(filename) == extension


@pytest.mark.parametrize(
    ("name", "kept"), [("Demo", "Demo"), ("  padded  ", "padded"), ("שלום 🎬", "שלום 🎬")]
)
def test_project_names_are_stripped(name: str, kept: str) -> None:
    assert check_project_name(name) == kept


def test_a_project_name_of_the_maximum_length_is_accepted() -> None:
    assert check_project_name("n" * MAX_NAME) == "n" * MAX_NAME


@pytest.mark.parametrize(
    "name",
    [
        None,
        42,
        ["Demo"],
        "",
        "   ",
        "n" * (MAX_NAME + 1),
        "bad\x00name",
        "bell\x07",
        "rtl\u202eoverride",
    ],
)
def test_invalid_project_names_are_unprocessable(name: object) -> None:
    with pytest.raises(InvalidError):
        check_project_name(name)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("No such project."), 404),
        (StateError("encode failed", "Video failed", video_status="failed"), 409),
        (TooLargeError("quota", "Storage quota exceeded", used_bytes=1), 413),
        (NotAVideoError("no video stream"), 415),
        (InvalidError("bad name", "Invalid project"), 422),
        (UnavailableError("The upload could not be queued."), 503),
    ],
)
def test_the_http_edge_translates_each_refusal(error: CliptrailError, status: int) -> None:
    problem = to_problem(error)
    assert problem is not None
    assert problem.status == status
    assert problem.detail in str(error) or str(error) in problem.detail


def test_facts_of_a_refusal_reach_the_problem_body() -> None:
    problem = to_problem(TooLargeError("full", "Storage quota exceeded", used_bytes=7))
    assert problem is not None and problem.extra == {"used_bytes": 7}


def test_errors_that_are_not_refusals_are_left_to_the_middleware() -> None:
    assert to_problem(TransientError("NATS is away")) is None
    assert to_problem(PermanentError("malformed message")) is None
