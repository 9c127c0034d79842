"""Probe cost: the PyAV worker (libs.media.probe) against the ffmpeg binary that probed before
(decode the first frame, read the log) and PyAV in-process, alternated on the same 2 s video."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from libs.media.probe import probe
from libs.media.probe_worker import describe
from libs.media.runner import ffmpeg_exe
from tests.bench.common import Row, Scale
from tests.support import make_video

ROUNDS = 20


def ffmpeg_probe(video: Path) -> None:
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(video), "-map", "0:v:0"]
    subprocess.run([*args, "-f", "null", "-frames:v", "1", "-"], check=True, capture_output=True)


def timed(job: Callable[[], object]) -> float:
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def run(_scale: Scale) -> list[Row]:
    with tempfile.TemporaryDirectory() as root:
        video = make_video(Path(root) / "small.mp4", seconds=2.0)
        old, new, inside = [], [], []
        for _ in range(ROUNDS):
            old.append(timed(lambda: ffmpeg_probe(video)))
            new.append(timed(lambda: asyncio.run(probe(video))))
            inside.append(timed(lambda: describe(str(video))))
    before = statistics.median(old)
    what = f"probe of a 2 s 320x240 MP4, median of {ROUNDS}"
    return [
        Row(f"{what}: PyAV worker (isolated)", statistics.median(new), "s",
            "the ffmpeg binary, as before", before),
        Row(f"{what}: PyAV in-process (not used)", statistics.median(inside), "s",
            "the ffmpeg binary, as before", before),
    ]  # fmt: skip
