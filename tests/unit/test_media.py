"""What ffmpeg says about a file (its log, as text), and what cliptrail makes of it."""

from __future__ import annotations

import pytest

from libs.media.probe import MediaInfo, NotAVideoError, parse_probe

# stderr of `ffmpeg -hide_banner -nostdin -i FILE -map 0:v:0 -f null -frames:v 1 -`
MP4 = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':
  Metadata:
    major_brand     : isom
    compatible_brands: isomiso2avc1mp41
  Duration: 00:01:02.50, start: 0.000000, bitrate: 778 kb/s
  Stream #0:0[0x1](und): Video: h264 (Constrained Baseline) (avc1 / 0x31637661), \
yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9], 697 kb/s, 25 fps, 25 tbr, 12800 tbn (default)
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 69 kb/s
Stream mapping:
  Stream #0:0 -> #0:0 (h264 (native) -> wrapped_avframe (native))
Output #0, null, to 'pipe:':
  Stream #0:0(und): Video: wrapped_avframe, yuv420p(progressive), 1280x720, q=2-31, 200 kb/s
"""

MATROSKA = """\
Input #0, matroska,webm, from 'a.mkv':
  Metadata:
    ENCODER         : Lavf63.1.102
  Duration: 01:00:02.02, start: 0.000000, bitrate: 766 kb/s
  Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(progressive), 320x240 [SAR 1:1 \
DAR 4:3], 25 fps, 25 tbr, 1k tbn (default)
  Stream #0:1: Audio: aac (LC), 44100 Hz, mono, fltp (default)
Stream mapping:
  Stream #0:0 -> #0:0 (h264 (native) -> wrapped_avframe (native))
"""

MP3_WITH_COVER = """\
Input #0, mp3, from 'a.mp3':
  Duration: 00:00:02.00, start: 0.025056, bitrate: 75 kb/s
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, mono, fltp, 64 kb/s, start 0.025057
  Stream #0:1: Video: png, rgb24(pc, gbr/unknown/unknown), 64x64 [SAR 1:1 DAR 1:1], 90k tbr, \
90k tbn, start 0.025056 (attached pic)
    Metadata:
      comment         : Other
Stream mapping:
  Stream #0:1 -> #0:0 (png (native) -> wrapped_avframe (native))
"""

M4A_WITH_COVER = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.m4a':
  Metadata:
    major_brand     : M4A
  Duration: 00:00:02.00, start: 0.000000, bitrate: 87 kb/s
  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 69 kb/s
  Stream #0:1[0x0]: Video: mjpeg (Baseline), yuvj444p(pc, bt470bg/unknown/unknown), 64x64 \
[SAR 1:1 DAR 1:1], 90k tbr, 90k tbn (attached pic)
Stream mapping:
  Stream #0:1 -> #0:0 (mjpeg (native) -> wrapped_avframe (native))
"""

MPEGTS = """\
Input #0, mpegts, from 'a.ts':
  Duration: 00:00:02.02, start: 1.400000, bitrate: 834 kb/s
  Program 1
  Stream #0:0[0x100]: Video: h264 (Constrained Baseline) ([27][0][0][0] / 0x001B), \
yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, 90k tbn, start 1.423222
  Stream #0:1[0x101](und): Audio: aac (LC) ([15][0][0][0] / 0x000F), 44100 Hz, mono, fltp
"""

AUDIO_ONLY = """\
Input #0, wav, from 'a.wav':
  Duration: 00:00:02.00, bitrate: 705 kb/s
  Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 44100 Hz, mono, s16, 705 kb/s
"""


def test_mp4_gives_container_size_duration_and_content_type() -> None:
    info = parse_probe(MP4)
    assert info == MediaInfo("mov,mp4,m4a,3gp,3g2,mj2", "mp4", 62.5, 1280, 720)
    assert info.content_type == "video/mp4"


@pytest.mark.parametrize(
    ("hint", "extension", "content_type"),
    [("mov", "mov", "video/quicktime"), ("m4v", "m4v", "video/x-m4v"), ("mkv", "mp4", "video/mp4")],
)
def test_mp4_family_keeps_a_matching_hint_only(
    hint: str, extension: str, content_type: str
) -> None:
    info = parse_probe(MP4, hint_extension=hint)
    assert (info.extension, info.content_type) == (extension, content_type)


def test_matroska_is_stored_as_mkv_or_webm() -> None:
    info = parse_probe(MATROSKA)
    assert (info.extension, info.width, info.height) == ("mkv", 320, 240)
    assert info.duration == pytest.approx(3602.02)
    assert info.content_type == "video/x-matroska"
    assert parse_probe(MATROSKA, hint_extension="webm").content_type == "video/webm"


def test_an_unknown_duration_is_zero() -> None:
    text = MP4.replace("Duration: 00:01:02.50", "Duration: N/A")
    assert parse_probe(text).duration == 0.0


NOT_VIDEOS = [
    pytest.param(MP3_WITH_COVER, id="mp3-attached-pic"),
    pytest.param(M4A_WITH_COVER, id="m4a-attached-pic"),
    pytest.param(MPEGTS, id="mpegts"),
    pytest.param(AUDIO_ONLY, id="audio-only"),
    pytest.param("", id="empty"),
    pytest.param("garbage\n", id="garbage"),
    pytest.param(MP4.replace("Input #0", "Input #1"), id="no-input-line"),
]


@pytest.mark.parametrize("text", NOT_VIDEOS)
def test_anything_but_a_supported_video_is_not_a_video(text: str) -> None:
    with pytest.raises(NotAVideoError):
        parse_probe(text)


def test_an_unsupported_container_is_named_in_the_error() -> None:
    with pytest.raises(NotAVideoError, match="mpegts"):
        parse_probe(MPEGTS)
