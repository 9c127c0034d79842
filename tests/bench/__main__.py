"""`make bench`: run every benchmark, print one table, write bench/results.json.

`python -m tests.bench [name ...]` runs only the named ones (upload, tus, delete, events, catalog,
render, probe, observability) and then only prints. BENCH_SCALE=full runs them at full size
(the 1 GiB upload, the 60 s render source); the default fits in 10 minutes on 2 cores.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.common import Row, Scale, table

BENCHES = ("upload", "tus", "delete", "events", "catalog", "render", "probe", "observability")
RESULTS = Path("bench/results.json")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine(scale: Scale) -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": scale.name,
        "load_average_before": round(os.getloadavg()[0], 2),
    }


def run(names: list[str], scale: Scale) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in names:
        started = time.perf_counter()
        print(f"bench: {name}...", flush=True)
        module = importlib.import_module(f"tests.bench.{name}")
        measured: list[Row] = module.run(scale)
        rows += [{"bench": name, **row.as_dict()} for row in measured]
        print(f"bench: {name} took {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def main() -> None:
    names = sys.argv[1:] or list(BENCHES)
    if unknown := set(names) - set(BENCHES):
        raise SystemExit(f"bench: no such benchmark: {', '.join(sorted(unknown))}")
    scale = Scale.named(os.environ.get("BENCH_SCALE", "default"))
    about = machine(scale)
    started = time.perf_counter()
    rows = run(names, scale)
    about["seconds"] = round(time.perf_counter() - started)
    if names == list(BENCHES):
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps({"machine": about, "rows": rows}, indent=2) + "\n")
    print("\n".join(["", *table(rows)]))
    print(f"\n{about['cpu']}, {about['cores']} cores, scale {scale.name}, {about['seconds']} s")


if __name__ == "__main__":
    main()
