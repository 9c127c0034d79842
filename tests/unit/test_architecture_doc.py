"""docs/architecture.md stays true: its generated tables match the code, and every file and
function it names as the home of a rule exists."""

from __future__ import annotations

import ast
import re

import pytest

from docs.gen import DOC, SECTIONS, render

ROOT = DOC.parents[1]
TEXT = DOC.read_text(encoding="utf-8")
PLACES = sorted(set(re.findall(r"`((?:libs|services|deploy)/[\w/]+\.py)` `([\w.]+)`", TEXT)))


def test_the_generated_tables_match_the_code() -> None:
    assert render(TEXT) == TEXT, "docs/architecture.md is out of date: run python -m docs.gen"


def test_every_section_is_in_the_document() -> None:
    assert all(f"<!-- gen:{name}:begin -->" in TEXT for name in SECTIONS)


def test_a_document_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="routes"):
        render("# no markers here\n")


def names_of(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {target.id for target in node.targets if isinstance(target, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def defined(body: list[ast.stmt], dotted: str) -> bool:
    """A top-level function, class or constant, or (dotted) a method of a top-level class."""
    first, _, rest = dotted.partition(".")
    node = next((node for node in body if first in names_of(node)), None)
    if node is None:
        return False
    return not rest or defined(getattr(node, "body", []), rest)


def test_the_rules_table_names_places() -> None:
    assert len(PLACES) > 30


@pytest.mark.parametrize(("path", "name"), PLACES, ids=[f"{p}:{n}" for p, n in PLACES])
def test_every_named_home_of_a_rule_exists(path: str, name: str) -> None:
    source = ROOT / path
    assert source.is_file(), f"{path} does not exist"
    assert defined(ast.parse(source.read_text(encoding="utf-8")).body, name), (
        f"{name} not in {path}"
    )
