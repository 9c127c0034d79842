"""probe_video on the real ffmpeg: a real MP4 is read, anything else is not a video."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from libs.media.probe import NotAVideoError, ffmpeg_exe, probe_video


async def test_probe_video_reads_a_real_mp4(small_video: Path) -> None:
    info = await probe_video(small_video, hint_extension="mp4")
    assert (info.extension, info.width, info.height) == ("mp4", 320, 240)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.content_type == "video/mp4"


async def test_probe_video_refuses_a_text_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(NotAVideoError):
        await probe_video(text, hint_extension="mp4")


async def test_probe_video_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotAVideoError):
        await probe_video(tmp_path / "absent.mp4")


def make_song_with_cover(path: Path) -> Path:
    """AAC audio with a cover image: an MP4-family file whose only video is an attached pic."""
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-f", "lavfi", "-i", "sine=duration=1", "-f", "lavfi", "-i", "color=c=red:s=64x64",
         "-map", "0", "-map", "1", "-frames:v", "1", "-c:a", "aac", "-c:v", "mjpeg",
         "-disposition:v", "attached_pic", str(path)],
        check=True,
    )  # fmt: skip
    return path


async def test_probe_video_refuses_audio_with_cover_art(tmp_path: Path) -> None:
    song = await asyncio.to_thread(make_song_with_cover, tmp_path / "song.m4a")
    with pytest.raises(NotAVideoError):
        await probe_video(song, hint_extension="mp4")
