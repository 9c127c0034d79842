"""The real ffmpeg on generated media: every style's frame, length, audio, thumbnail and cut."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import psutil
import pytest

from libs.media.probe import MediaInfo, NotAVideoError
from libs.media.runner import FfmpegError, FfmpegRunner, ffmpeg_exe, run_process
from services.render.auto_highlights import pick_highlights
from services.render.ffmpeg import FfmpegMedia
from services.render.model import EncodeJob, FrameSize
from services.render.verify import OutputRejectedError, check_clip
from tests.integration.render.support import (
    difference,
    ffmpeg_run,
    frame_count,
    gray_frame,
    is_jpeg,
    mean_colour,
    rgb_frame,
)

VERTICAL = FrameSize(720, 1280)
MEDIA = FfmpegMedia(FfmpegRunner(2), timeout_factor=10.0)


async def cut(
    source: Path, out: Path, style: str, start: float = 1.0, length: float = 2.0
) -> tuple[MediaInfo, MediaInfo]:
    """Encode one clip and its thumbnail; return both probes."""
    source_probe = await MEDIA.probe(source)
    clip = out / f"{style}.mp4"
    audio = source_probe.has_audio
    job = EncodeJob(source, clip, start, length, style, VERTICAL, "ultrafast", audio)  # type: ignore[arg-type]
    await MEDIA.encode(job)
    await MEDIA.thumbnail(clip, clip.with_suffix(".jpg"), length)
    return await MEDIA.probe(clip), await MEDIA.probe(clip.with_suffix(".jpg"))


@pytest.mark.parametrize(
    ("source", "style", "size"),
    [
        ("landscape", "original", (640, 360)),
        ("landscape", "vertical", (720, 1280)),
        ("landscape", "blur", (720, 1280)),
        ("landscape", "split", (720, 1280)),
        ("portrait", "original", (360, 640)),
        ("portrait", "vertical", (720, 1280)),
        ("portrait", "blur", (720, 1280)),
        ("portrait", "split", (720, 1280)),
        ("wide_hd", "original", (1280, 720)),
        ("wide_hd", "vertical", (720, 1280)),
        ("odd_sized", "original", (320, 240)),
        ("turned", "original", (360, 640)),
        ("turned", "vertical", (720, 1280)),
    ],
)
async def test_each_style_has_its_frame_length_audio_and_thumbnail(
    source: str, style: str, size: tuple[int, int], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    path: Path = request.getfixturevalue(source)
    fps = (await MEDIA.probe(path)).fps
    clip, thumbnail = await cut(path, tmp_path, style)
    assert (clip.codec, clip.width, clip.height, clip.has_audio) == ("h264", *size, True)
    assert abs(clip.duration - 2.0) <= 1 / fps + 0.005
    assert abs(frame_count(tmp_path / f"{style}.mp4") - 2.0 * fps) <= 1
    assert (thumbnail.codec, thumbnail.width, thumbnail.height) == ("mjpeg", *size)
    assert is_jpeg(tmp_path / f"{style}.jpg")
    assert b"moov" in (tmp_path / f"{style}.mp4").read_bytes()[:4096]  # +faststart


@pytest.mark.parametrize("start", [1.24, 1.23])
async def test_the_cut_starts_at_the_exact_frame_not_the_keyframe_before(
    landscape: Path, tmp_path: Path, start: float
) -> None:
    await cut(landscape, tmp_path, "original", start=start)
    first = gray_frame(tmp_path / "original.mp4")
    # frame 31 (1.24 s) is the first at or after both starts; the only keyframe is frame 0
    distances = {n: difference(first, gray_frame(landscape, n)) for n in (0, 30, 31, 32)}
    assert distances[31] < 2.0
    assert min(distances[0], distances[30], distances[32]) > 3 * distances[31] + 2.0


async def test_split_puts_the_left_half_on_top(halves: Path, tmp_path: Path) -> None:
    await cut(halves, tmp_path, "split", start=0.5, length=1.0)
    frame = rgb_frame(tmp_path / "split.mp4", 0.5)
    top, bottom = mean_colour(frame, 720, 0.05, 0.45), mean_colour(frame, 720, 0.55, 0.95)
    assert top[0] > 200 and top[2] < 40
    assert bottom[2] > 200 and bottom[0] < 40


async def test_vertical_keeps_the_centre(thirds: Path, tmp_path: Path) -> None:
    await cut(thirds, tmp_path, "vertical", start=0.5, length=1.0)
    red, green, blue = mean_colour(rgb_frame(tmp_path / "vertical.mp4", 0.5), 720, 0.0, 1.0)
    assert green > 200 and red < 40 and blue < 40


async def test_blur_fits_the_whole_source_over_a_fill(thirds: Path, tmp_path: Path) -> None:
    await cut(thirds, tmp_path, "blur", start=0.5, length=1.0)
    frame = rgb_frame(tmp_path / "blur.mp4", 0.5)
    middle_row = frame[640 * 720 * 3 : 641 * 720 * 3]
    assert middle_row[0] > 200 and middle_row[-1] > 200  # red at the left edge, blue at the right
    assert max(mean_colour(frame, 720, 0.0, 0.1)) > 60  # the top is a fill, not black bars


async def test_a_silent_source_gives_silent_clips(silent: Path, tmp_path: Path) -> None:
    clip, _ = await cut(silent, tmp_path, "vertical")
    assert not clip.has_audio and abs(clip.duration - 2.0) <= 0.045


async def test_a_corrupt_file_is_no_video(corrupt: Path) -> None:
    with pytest.raises(NotAVideoError, match=r"not a decodable video: .*Invalid data") as caught:
        await MEDIA.probe(corrupt)
    assert str(corrupt.parent) not in str(caught.value)


async def test_a_truncated_file_is_no_video(landscape: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(landscape.read_bytes()[: landscape.stat().st_size // 2])
    with pytest.raises(NotAVideoError, match="not a decodable video"):
        await MEDIA.probe(truncated)


async def test_a_source_cut_short_gives_a_short_clip_that_verification_rejects(
    landscape: Path, tmp_path: Path
) -> None:
    whole = tmp_path / "faststart.mp4"
    ffmpeg_run("-i", str(landscape), "-c", "copy", "-movflags", "+faststart", str(whole))
    cut_short = tmp_path / "cut-short.mp4"
    cut_short.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    source = await MEDIA.probe(cut_short)
    assert source.duration == 8.0  # the header still promises all of it
    clip, _ = await cut(cut_short, tmp_path, "original", start=3.0)  # ffmpeg itself exits 0
    assert clip.duration < 1.5
    with pytest.raises(OutputRejectedError, match=r"lasts \d\.\d+ s, not 2\.000 s"):
        check_clip("clip.mp4", clip, FrameSize(640, 360), 2.0, source)


async def test_the_signal_finds_the_cut_into_the_loud_part(quiet_then_loud: Path) -> None:
    probe = await MEDIA.probe(quiet_then_loud)
    signal = await MEDIA.analyse(quiet_then_loud, probe)
    assert [round(t) for t, _ in signal.scene_changes] == [40]
    quiet = [lufs for t, lufs in signal.loudness if 5 < t < 39]
    loud = [lufs for t, lufs in signal.loudness if 41 < t < 59]
    assert max(quiet) + 20 < min(loud)
    picked = pick_highlights(probe.duration, signal)
    assert len(picked) == 3 and any(abs(h.start - 40.0) <= 0.5 for h in picked)


async def test_a_silent_source_is_analysed_by_its_pictures(silent: Path) -> None:
    signal = await MEDIA.analyse(silent, await MEDIA.probe(silent))
    assert signal.loudness == []


def ffmpeg_children() -> list[psutil.Process]:
    return [child for child in psutil.Process().children() if "ffmpeg" in child.name()]


async def test_a_hung_process_is_killed_at_its_deadline() -> None:
    endless = [ffmpeg_exe(), "-re", "-f", "lavfi", "-i", "testsrc", "-f", "null", "-"]
    started = time.monotonic()
    with pytest.raises(FfmpegError, match=r"ran longer than 0\.5 s"):
        await run_process(endless, timeout=0.5)
    assert time.monotonic() - started < 5
    assert ffmpeg_children() == []


async def test_a_cancelled_render_leaves_no_process_behind() -> None:
    endless = [ffmpeg_exe(), "-re", "-f", "lavfi", "-i", "testsrc", "-f", "null", "-"]
    task = asyncio.create_task(run_process(endless, timeout=60))
    await asyncio.sleep(0.3)
    assert len(ffmpeg_children()) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ffmpeg_children() == []


async def test_a_failure_names_ffmpegs_reason() -> None:
    with pytest.raises(FfmpegError, match=r"ffmpeg failed: .*No such file"):
        await run_process([ffmpeg_exe(), "-i", "/nonexistent/input.mp4", "-f", "null", "-"], 10)


@pytest.mark.parametrize(("slots", "serial"), [(1, True), (3, False)])
async def test_no_more_processes_than_slots_run_at_once(slots: int, serial: bool) -> None:
    runner = FfmpegRunner(slots)
    nap = [sys.executable, "-c", "import time; time.sleep(0.5)"]
    started = time.monotonic()
    await asyncio.gather(*(runner.run(nap, 10) for _ in range(3)))
    assert (time.monotonic() - started >= 1.5) is serial
