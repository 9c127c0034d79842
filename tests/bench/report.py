"""Rewrite the README's benchmark table from bench/results.json (between the bench markers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.bench.__main__ import RESULTS
from tests.bench.common import table

README = Path("README.md")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def section(results: dict[str, Any]) -> str:
    about = results["machine"]
    lines = [
        BEGIN,
        f"Measured {about['date']} on {about['cpu']} ({about['cores']} cores), Python "
        f"{about['python']}, scale `{about['scale']}`, {about['seconds']} s in all "
        f"(load average {about['load_average_before']} before it started):",
        "",
        *table(results["rows"]),
        "",
        *[f"- {row['what']}: {row['note']}" for row in results["rows"] if row["note"]],
        END,
    ]
    return "\n".join(lines)


def rewrite(readme: str, results: dict[str, Any]) -> str:
    head, found, rest = readme.partition(BEGIN)
    _, ended, tail = rest.partition(END)
    if not (found and ended):
        raise SystemExit(f"bench: {README} has no {BEGIN} ... {END} section")
    return head + section(results) + tail


def main() -> None:
    results = json.loads(RESULTS.read_text())
    README.write_text(rewrite(README.read_text(), results))


if __name__ == "__main__":
    main()
