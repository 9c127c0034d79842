"""The object key layout of DESIGN.md: builders, parser, id checks and title slugs."""

from __future__ import annotations

import re

import pytest

from libs.storage.keys import (
    InvalidKeyError,
    ParsedKey,
    check_id,
    check_prefix,
    clip_key,
    clip_stem,
    database_key,
    highlights_key,
    is_deletable,
    is_valid_id,
    new_id,
    parse_key,
    project_prefix,
    slugify,
    source_key,
    thumbnail_key,
    user_prefix,
    video_prefix,
)

USER, PROJECT, VIDEO = "alice", "p1", "v-1_a"
VIDEO_DIR = f"users/{USER}/projects/{PROJECT}/videos/{VIDEO}/"
STEM = "clip_01_02_goal_vertical"

BAD_IDS = [
    "../",
    "..",
    "",
    "a" * 65,
    "ünïcode",
    "a\x00b",
    "a/b",
    "a\\b",
    "with space",
    "dot.dot",
    "trailing\n",
    "١٢٣",  # Arabic-Indic digits are digits to \d, not to the contract
]


def test_builders_follow_the_documented_layout() -> None:
    assert user_prefix(USER) == "users/alice/"
    assert database_key(USER) == "users/alice/database.sqlite"
    assert project_prefix(USER, PROJECT) == "users/alice/projects/p1/"
    assert video_prefix(USER, PROJECT, VIDEO) == VIDEO_DIR
    assert source_key(USER, PROJECT, VIDEO, "mp4") == f"{VIDEO_DIR}source.mp4"
    assert highlights_key(USER, PROJECT, VIDEO) == f"{VIDEO_DIR}highlights.json"
    assert clip_key(USER, PROJECT, VIDEO, STEM) == f"{VIDEO_DIR}clips/{STEM}.mp4"
    assert thumbnail_key(USER, PROJECT, VIDEO, STEM) == f"{VIDEO_DIR}clips/{STEM}.jpg"


def test_clip_stem_numbers_from_01_with_two_digits() -> None:
    assert clip_stem(1, 2, "Goal!", "vertical") == STEM
    assert clip_stem(12, 4, "x", "split") == "clip_12_04_x_split"


@pytest.mark.parametrize(
    ("number", "style_number", "style"),
    [(0, 1, "original"), (1, 0, "original"), (100, 1, "blur"), (1, 1, "sepia")],
)
def test_clip_stem_rejects_out_of_range_numbers_and_unknown_styles(
    number: int, style_number: int, style: str
) -> None:
    with pytest.raises(InvalidKeyError):
        clip_stem(number, style_number, "title", style)


def test_source_key_rejects_extensions_outside_the_allowed_set() -> None:
    with pytest.raises(InvalidKeyError):
        source_key(USER, PROJECT, VIDEO, "exe")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (database_key(USER), ParsedKey(database_key(USER), "database", USER, None, None)),
        (
            source_key(USER, PROJECT, VIDEO, "webm"),
            ParsedKey(source_key(USER, PROJECT, VIDEO, "webm"), "source", USER, PROJECT, VIDEO),
        ),
        (
            highlights_key(USER, PROJECT, VIDEO),
            ParsedKey(highlights_key(USER, PROJECT, VIDEO), "highlights", USER, PROJECT, VIDEO),
        ),
        (
            clip_key(USER, PROJECT, VIDEO, STEM),
            ParsedKey(clip_key(USER, PROJECT, VIDEO, STEM), "clip", USER, PROJECT, VIDEO),
        ),
        (
            thumbnail_key(USER, PROJECT, VIDEO, STEM),
            ParsedKey(thumbnail_key(USER, PROJECT, VIDEO, STEM), "thumbnail", USER, PROJECT, VIDEO),
        ),
    ],
    ids=["database", "source", "highlights", "clip", "thumbnail"],
)
def test_parse_key_round_trips_every_file_type(key: str, expected: ParsedKey) -> None:
    assert parse_key(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "",
        "users/alice/",
        "users/alice/database.sqlite/",
        "/users/alice/database.sqlite",
        "users/../database.sqlite",
        "users/alice/projects/p1/videos/v1/source.mp4/../x",
        "users/alice/projects/p1/videos/v1/highlights.json\n",
        "users/alice/projects/p1/videos/v1/clips/clip_1_01_x_original.mp4",
        "users/alice/projects/p1/videos/v1/clips/clip_01_01_UPPER_original.mp4",
        "users/alice/projects/p1/videos/v1/clips/clip_01_01_x_original.png",
        "users/alice/projects/p1/other.txt",
        "Users/alice/database.sqlite",
    ],
)
def test_parse_key_rejects_keys_outside_the_layout(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        parse_key(key)


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_are_rejected_by_every_builder(bad: str) -> None:
    assert not is_valid_id(bad)
    with pytest.raises(InvalidKeyError):
        check_id(bad)
    with pytest.raises(InvalidKeyError):
        database_key(bad)
    with pytest.raises(InvalidKeyError):
        project_prefix(USER, bad)
    with pytest.raises(InvalidKeyError):
        source_key(USER, PROJECT, bad, "mp4")


@pytest.mark.parametrize("good", ["a", "A-z_09", "x" * 64])
def test_ids_of_the_documented_alphabet_and_length_are_valid(good: str) -> None:
    assert is_valid_id(good)
    assert check_id(good) == good


def test_new_ids_are_valid_and_distinct() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(is_valid_id(i) for i in ids)


def test_project_prefix_always_ends_with_a_slash() -> None:
    assert project_prefix("u", "p").endswith("/")
    assert project_prefix("u" * 64, "p" * 64).endswith("/")


def test_a_project_prefix_is_not_a_prefix_of_a_longer_project_id() -> None:
    key_in_p10 = source_key(USER, "proj10", VIDEO, "mp4")
    assert not key_in_p10.startswith(project_prefix(USER, "proj1"))
    assert key_in_p10.startswith(project_prefix(USER, "proj10"))


SLUG = re.compile(r"\A[a-z0-9]+(-[a-z0-9]+)*\Z")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Hello World", "hello-world"),
        ("Goal! 🎉🔥 at 90'", "goal-at-90"),
        ("a/b\\c", "a-b-c"),
        ("\"quoted\" and 'single'", "quoted-and-single"),
        ("Café déjà vu", "cafe-deja-vu"),
        ("שלום עולם", "clip"),
        ("مرحبا بالعالم", "clip"),
        ("Intro שלום", "intro"),
        ("🎉🎉🎉", "clip"),
        ("", "clip"),
        ("   ---   ", "clip"),
        ("../../etc/passwd", "etc-passwd"),
    ],
)
def test_slugify_keeps_only_lowercase_ascii_words(title: str, expected: str) -> None:
    assert slugify(title) == expected


def test_slugify_cuts_long_titles_to_40_characters_without_a_trailing_hyphen() -> None:
    slug = slugify("word " * 100)
    assert len(slug) <= 40
    assert SLUG.match(slug)
    assert len(slugify("x" * 500)) == 40


@pytest.mark.parametrize(
    "title", ["Goal! 🎉", "a/b", "שלום", "x" * 300, "", "'\"", "a - - b", "ﬁnal ½"]
)
def test_any_title_gives_a_clip_key_that_parses(title: str) -> None:
    stem = clip_stem(3, 1, title, "blur")
    key = clip_key(USER, PROJECT, VIDEO, stem)
    assert SLUG.match(slugify(title))
    assert parse_key(key).file_type == "clip"
    assert parse_key(thumbnail_key(USER, PROJECT, VIDEO, stem)).file_type == "thumbnail"


@pytest.mark.parametrize(
    "key",
    [
        "users/u/projects/p/videos/v/source.exe",
        "users/u/projects/p/videos/v/clips/clip_01_01_x_sepia.mp4",
        "users/u/projects/p/videos/v/clips/clip_00_01_x_original.mp4",
        "users/u/projects/p/videos/v/clips/clip_01_00_x_original.jpg",
    ],
)
def test_parse_key_is_as_strict_as_the_builders(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        parse_key(key)


@pytest.mark.parametrize(
    "prefix", ["", "users/u1/", "users/u1/projects/p1/", "users/u1/projects/p1/videos/v1/"]
)
def test_a_layout_prefix_or_the_whole_bucket_may_be_listed(prefix: str) -> None:
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", ["users/", "users/u1", "users/u1/projects/", "junk/", "users/u1/database", "u"]
)
def test_any_other_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(InvalidKeyError):
        check_prefix(prefix)


def test_layout_keys_and_leftovers_inside_a_project_are_deletable_nothing_else() -> None:
    assert is_deletable("users/u1/database.sqlite")
    assert is_deletable("users/u1/projects/p1/videos/v1/stray.tmp")
    for key in (
        "junk/x",
        "users/u1/notes.txt",
        "users/u1/projects/p1/../../u2/database.sqlite",
        "users/u1/projects/p1//x",
        "users/u1/projects/p1/\nx",
    ):
        assert not is_deletable(key), key
