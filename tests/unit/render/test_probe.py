"""Reading what ffmpeg says about a file (its log, not a library: there is no ffprobe)."""

from __future__ import annotations

import pytest

from services.render.ffmpeg import FfmpegError, last_words, parse_probe

PHONE = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '/data/work/render/v1/source.mov':
  Duration: 00:01:02.47, start: 0.000000, bitrate: 1879 kb/s
  Stream #0:0[0x1](und): Video: hevc (Main) (hvc1 / 0x31637668), yuv420p(tv), 1920x1080, 29.97 fps, 30 tbr (default)
    Side data:
      Display Matrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp (default)
Stream mapping:
  Stream #0:0 -> #0:0 (hevc (native) -> wrapped_avframe (native))
Output #0, null, to 'pipe:':
  Stream #0:0: Video: wrapped_avframe, yuv420p, 1080x1920, 29.97 fps
  Stream #0:1: Audio: pcm_s16le, 48000 Hz
"""  # noqa: E501
SILENT = """\
Input #0, image2, from 'clip.jpg':
  Duration: 00:00:00.04, start: 0.000000, bitrate: 4259 kb/s
  Stream #0:0: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 720x1280 [SAR 1:1 DAR 9:16], 25 tbr, 25 tbn
Stream mapping:
  Stream #0:0 -> #0:0 (mjpeg (native) -> wrapped_avframe (native))
"""  # noqa: E501


def test_a_turned_phone_video_is_probed_upright() -> None:
    probe = parse_probe(PHONE)
    assert (probe.width, probe.height, probe.codec) == (1080, 1920, "hevc")
    assert (probe.duration, probe.fps, probe.has_audio) == (62.47, 29.97, True)


def test_only_the_input_counts_and_a_missing_rate_means_25_fps() -> None:
    probe = parse_probe(SILENT)
    assert (probe.width, probe.height, probe.codec) == (720, 1280, "mjpeg")
    assert (probe.fps, probe.has_audio) == (25.0, False)


def test_a_file_without_video_is_refused() -> None:
    with pytest.raises(FfmpegError, match="no video stream"):
        parse_probe("Input #0, mp3, from 'a.mp3':\n  Stream #0:0: Audio: mp3, 44100 Hz\n")


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
