"""Real files probed by the PyAV worker: what a file is, and what is not a video."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from libs.media.limits import MediaLimits, VideoLimitError, check_limits
from libs.media.probe import NotAVideoError, probe, require_storable
from libs.media.runner import ffmpeg_exe

LIMITS = MediaLimits(3840, 2160, 4 * 3600.0)


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def make(path: Path, source: str, *encode: str) -> Path:
    """A tiny clip of testsrc2 with a tone, encoded fast and small."""
    ffmpeg(
        *("-f", "lavfi", "-i", source, "-f", "lavfi", "-i", "sine=duration=0.2"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-crf", "51", *encode, str(path)),
    )  # fmt: skip
    return path


async def test_probe_reads_a_real_mp4(small_video: Path) -> None:
    info = require_storable(await probe(small_video, hint_extension="mp4"))
    assert (info.extension, info.width, info.height, info.codec) == ("mp4", 320, 240, "h264")
    assert (info.fps, info.has_audio, info.rotation) == (25.0, True, 0)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.content_type == "video/mp4"


async def test_probe_refuses_a_text_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(NotAVideoError, match="Invalid data"):
        await probe(text, hint_extension="mp4")


async def test_probe_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotAVideoError, match="No such file"):
        await probe(tmp_path / "absent.mp4")


async def test_a_colon_in_a_file_name_is_no_protocol(tmp_path: Path, small_video: Path) -> None:
    odd = tmp_path / "http:odd.mp4"
    odd.write_bytes(small_video.read_bytes())
    assert (await probe(odd)).width == 320


def make_song_with_cover(path: Path) -> Path:
    """AAC audio with a cover image: an MP4-family file whose only video is an attached pic."""
    ffmpeg(
        "-f", "lavfi", "-i", "sine=duration=1", "-f", "lavfi", "-i", "color=c=red:s=64x64",
        "-map", "0", "-map", "1", "-frames:v", "1", "-c:a", "aac", "-c:v", "mjpeg",
        "-disposition:v", "attached_pic", str(path),
    )  # fmt: skip
    return path


async def test_probe_refuses_audio_with_cover_art(tmp_path: Path) -> None:
    song = await asyncio.to_thread(make_song_with_cover, tmp_path / "song.m4a")
    with pytest.raises(NotAVideoError, match="no video stream"):
        await probe(song, hint_extension="mp4")


async def test_probe_refuses_audio_alone(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    await asyncio.to_thread(ffmpeg, "-f", "lavfi", "-i", "sine=duration=0.5", str(wav))
    with pytest.raises(NotAVideoError, match="no video stream"):
        await probe(wav)


async def test_an_mpegts_video_is_probed_but_not_storable(tmp_path: Path) -> None:
    ts = await asyncio.to_thread(make, tmp_path / "a.ts", "testsrc2=size=64x64:duration=0.2")
    info = await probe(ts)
    assert (info.container, info.width, info.has_audio) == ("mpegts", 64, True)
    with pytest.raises(NotAVideoError, match="mpegts"):
        require_storable(info)


async def test_a_turned_phone_video_is_probed_upright(tmp_path: Path, small_video: Path) -> None:
    turned = tmp_path / "turned.mp4"
    await asyncio.to_thread(
        ffmpeg, "-display_rotation", "90", "-i", str(small_video), "-c", "copy", str(turned)
    )
    info = await probe(turned)
    assert (info.width, info.height, abs(info.rotation)) == (240, 320, 90)


async def test_real_media_past_the_limits_is_refused_with_its_figures(tmp_path: Path) -> None:
    wide = make(
        tmp_path / "wide.mp4", "testsrc2=size=3842x2160:rate=1:duration=1", "-frames:v", "1"
    )
    fast = make(tmp_path / "fast.mp4", "testsrc2=size=64x64:rate=250:duration=0.2")
    with pytest.raises(VideoLimitError, match="3842x2160 is above the limit of 3840x2160"):
        check_limits(await probe(wide), LIMITS)
    with pytest.raises(VideoLimitError, match="250 fps is above the limit of 240 fps"):
        check_limits(await probe(fast), LIMITS)
