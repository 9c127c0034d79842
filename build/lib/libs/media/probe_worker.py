"""`python -I probe_worker.py SOURCE`: what a media file or http(s) URL holds, as one JSON line.

Run by libs.media.probe in a short-lived process of its own, under a memory limit and a
deadline, so a hostile upload that crashes or bloats FFmpeg's demuxers or decoders takes down
only this process. Standard library and PyAV only: it must start without the project on sys.path.
Exit 0 with the JSON on stdout, or 2 with the reason on stderr (never the source: URLs carry
signatures).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import av

NETWORK_TIMEOUT_SECONDS = 20.0


class ProbeFailure(Exception):
    """The source holds no decodable moving picture."""


def moving_video(container: Any) -> Any:
    """The first video stream that is not cover art (an attached picture is a single image)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise ProbeFailure("the file holds no video stream")


def protocols(source: str) -> str:
    """Only what the source needs: a playlist in an upload must not make FFmpeg fetch URLs."""
    return "http,https,tcp,tls" if source.startswith(("http://", "https://")) else "file"


def describe(source: str) -> dict[str, Any]:
    options = {"protocol_whitelist": protocols(source)}
    with av.open(source, options=options, timeout=NETWORK_TIMEOUT_SECONDS) as container:
        video = moving_video(container)
        video.codec_context.thread_count = 1  # one frame, and one frame's worth of memory
        frame = next(container.decode(video), None)
        if frame is None:
            raise ProbeFailure("no video frame could be decoded")
        return {
            "format": container.format.name,
            "duration": container.duration / av.time_base if container.duration else 0.0,
            "codec": video.codec_context.name,
            "width": frame.width,
            "height": frame.height,
            "rotation": frame.rotation,
            "fps": float(video.average_rate or 0),
            "has_audio": bool(container.streams.audio),
        }


def main(argv: list[str]) -> int:
    try:
        report = describe(argv[1])
    except av.FFmpegError as exc:
        print(exc.strerror or type(exc).__name__, file=sys.stderr)  # str(exc) names the source
        return 2
    except (ProbeFailure, MemoryError) as exc:
        print(str(exc) or type(exc).__name__, file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
