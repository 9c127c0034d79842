"""What render learns of a file: the probe (libs.media) and the reason in ffmpeg's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from libs.media.probe import NotAVideoError
from libs.media.runner import FfmpegRunner, last_words
from services.render.ffmpeg import FfmpegMedia
from tests.integration.render.support import ffmpeg_run

MEDIA = FfmpegMedia(FfmpegRunner(1), timeout_factor=10.0)


async def test_a_turned_phone_video_is_probed_upright(turned: Path) -> None:
    probe = await MEDIA.probe(turned)
    assert (probe.width, probe.height, probe.codec, abs(probe.rotation)) == (360, 640, "h264", 90)
    assert (probe.duration, probe.fps, probe.has_audio) == (8.0, 25.0, True)


async def test_a_thumbnail_is_probed_as_a_still_at_25_fps(landscape: Path, tmp_path: Path) -> None:
    still = tmp_path / "still.jpg"
    ffmpeg_run("-i", str(landscape), "-frames:v", "1", str(still))
    probe = await MEDIA.probe(still)
    assert (probe.width, probe.height, probe.codec) == (640, 360, "mjpeg")
    assert (probe.fps, probe.has_audio) == (25.0, False)


async def test_a_file_without_video_is_refused(media_dir: Path) -> None:
    tone = media_dir / "tone.m4a"
    ffmpeg_run("-f", "lavfi", "-i", "sine=duration=0.5", str(tone))
    with pytest.raises(
        NotAVideoError, match=r"tone\.m4a is not a decodable video: .* video stream"
    ):
        await MEDIA.probe(tone)


TRUNCATED = """\
[h264 @ 0x55c3927e9bc0] Invalid NAL unit size (19679 > 5093).
[in#0/mov,mp4,m4a,3gp,3g2,mj2 @ 0x55c3926b3880] stream 1, offset 0x2412b6: partial file
[vist#0:0/h264 @ 0x55c392742b00] [dec:h264 @ 0x55c3926ba140] Decoding error: Invalid data found when processing input
[vist#0:0/h264 @ 0x55c392742b00] [dec:h264 @ 0x55c3926ba140] Decode error rate 1 exceeds maximum 0.666667
[vist#0:0/h264 @ 0x55c392742b00] [dec:h264 @ 0x55c3926ba140] Task finished with error code: -1145393733 (Error number -1145393733 occurred)
[vist#0:0/h264 @ 0x55c392742b00] [dec:h264 @ 0x55c3926ba140] Terminating thread with return code -1145393733 (Error number -1145393733 occurred)
"""  # noqa: E501
BAD_FILTER = """\
[Parsed_crop_0 @ 0x7fa1ec001b40] Invalid too big or non positive size for width '10000' or height '10000'
[Parsed_crop_0 @ 0x7fa1ec001b40] Failed to configure input pad on Parsed_crop_0
[vf#0:0 @ 0x564073b54600] Error reinitializing filters!
[vost#0:0/wrapped_avframe @ 0x564073a95440] [enc:wrapped_avframe @ 0x564073b06dc0] Could not open encoder before EOF
[out#0/null @ 0x564073b07700] Nothing was written into output file, because at least one of its streams received no packets.
"""  # noqa: E501


def test_the_reason_is_what_ffmpeg_said_before_it_wound_down() -> None:
    assert last_words(TRUNCATED) == "Decoding error: Invalid data found when processing input"
    assert last_words(BAD_FILTER).startswith("Invalid too big or non positive size for width")
    assert (
        last_words("Task finished with error code: -22\n") == "Task finished with error code: -22"
    )


def test_the_reason_is_the_last_line_without_server_paths() -> None:
    log = "frame= 1\n/data/work/render/v1/source.mp4: Invalid data found when processing input\n\n"
    assert last_words(log) == "source.mp4: Invalid data found when processing input"
    assert last_words("") == "no message"
