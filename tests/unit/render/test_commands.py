"""The ffmpeg argument lists: what each must ask of ffmpeg, and nothing else."""

from __future__ import annotations

from pathlib import Path

from libs.media.runner import ffmpeg_exe
from services.render.commands import analysis_args, encode_args, thumbnail_args
from services.render.model import EncodeJob, FrameSize

SOURCE, OUT = Path("/w/source.mp4"), Path("/w/clip.mp4")


def job(style: str = "original", with_audio: bool = True) -> EncodeJob:
    return EncodeJob(SOURCE, OUT, 12.5, 3.25, style, FrameSize(720, 1280), "veryfast", with_audio)  # type: ignore[arg-type]


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_cut_seeks_on_the_input_and_encodes_h264_aac_for_the_web() -> None:
    args = encode_args(job())
    assert args[0] == ffmpeg_exe()
    assert args.index("-ss") < args.index("-t") < args.index("-i")
    assert (option(args, "-ss"), option(args, "-t"), option(args, "-i")) == (
        "12.500",
        "3.250",
        str(SOURCE),
    )
    assert option(args, "-c:v") == "libx264" and option(args, "-preset") == "veryfast"
    assert option(args, "-c:a") == "aac" and option(args, "-pix_fmt") == "yuv420p"
    assert option(args, "-movflags") == "+faststart"
    assert args.count("-map") == 2 and str(OUT) in args and "-y" in args


def test_original_keeps_the_frame_and_only_evens_its_sides() -> None:
    graph = option(encode_args(job()), "-filter_complex")
    assert "crop=trunc(iw/2)*2:trunc(ih/2)*2" in graph and "scale" not in graph


def test_each_nine_by_sixteen_style_ends_at_the_configured_frame() -> None:
    graphs = {
        s: option(encode_args(job(s)), "-filter_complex") for s in ("vertical", "blur", "split")
    }
    assert "scale=720:1280" in graphs["vertical"] and "min(iw\\,ih*720/1280)" in graphs["vertical"]
    assert "boxblur" in graphs["blur"] and "overlay" in graphs["blur"]
    assert "crop=iw/2:ih:0:0" in graphs["split"] and "vstack" in graphs["split"]
    assert graphs["split"].index("crop=iw/2:ih:0:0") < graphs["split"].index("crop=iw/2:ih:iw/2:0")


def test_a_silent_source_maps_no_audio() -> None:
    args = encode_args(job(with_audio=False))
    assert args.count("-map") == 1 and "asetpts" not in option(args, "-filter_complex")


def test_the_thumbnail_picks_a_representative_frame_from_a_third_in() -> None:
    args = thumbnail_args(OUT, Path("/w/clip.jpg"), at=1.5)
    assert option(args, "-ss") == "1.500" and "thumbnail=" in option(args, "-filter_complex")
    assert option(args, "-vframes") == "1" and "/w/clip.jpg" in args


def test_the_analysis_logs_scene_changes_and_loudness_in_one_pass() -> None:
    graph = option(analysis_args(SOURCE, with_audio=True), "-filter_complex")
    assert "scdet" in graph and "ebur128" in graph
    silent = analysis_args(SOURCE, with_audio=False)
    assert "ebur128" not in option(silent, "-filter_complex")
    assert option(silent, "-loglevel") == "info" and option(silent, "-f") == "null"
