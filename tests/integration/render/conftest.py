"""Media made once per session for the render tests (small and short: the suite must be quick)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.render.support import (
    ffmpeg_run,
    make_bands,
    make_media,
    make_quiet_then_loud,
)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("render-media")


@pytest.fixture(scope="session")
def landscape(media_dir: Path) -> Path:
    return make_media(media_dir / "landscape.mp4", 8.0, "640x360")


@pytest.fixture(scope="session")
def portrait(media_dir: Path) -> Path:
    return make_media(media_dir / "portrait.mp4", 4.0, "360x640")


@pytest.fixture(scope="session")
def wide_hd(media_dir: Path) -> Path:
    return make_media(media_dir / "hd.mp4", 4.0, "1280x720", rate=30)


@pytest.fixture(scope="session")
def silent(media_dir: Path) -> Path:
    return make_media(media_dir / "silent.mp4", 4.0, "320x180", audio=False)


@pytest.fixture(scope="session")
def odd_sized(media_dir: Path) -> Path:
    """321x241: only possible in 4:4:4, which the clips must turn into 4:2:0 with even sides."""
    path = media_dir / "odd.mp4"
    ffmpeg_run(
        *("-f", "lavfi", "-i", "testsrc2=size=321x241:rate=25:duration=4"),
        *("-f", "lavfi", "-i", "sine=duration=4"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p", "-c:a", "aac"),
        str(path),
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def halves(media_dir: Path) -> Path:
    return make_bands(media_dir / "halves.mp4", ["red", "blue"])


@pytest.fixture(scope="session")
def thirds(media_dir: Path) -> Path:
    return make_bands(media_dir / "thirds.mp4", ["red", "lime", "blue"])


@pytest.fixture(scope="session")
def quiet_then_loud(media_dir: Path) -> Path:
    return make_quiet_then_loud(media_dir / "quiet-then-loud.mp4")


@pytest.fixture(scope="session")
def corrupt(media_dir: Path) -> Path:
    path = media_dir / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    return path


@pytest.fixture(scope="session")
def turned(media_dir: Path, landscape: Path) -> Path:
    """Landscape pixels with a display matrix turning them upright, as phones store portrait."""
    path = media_dir / "turned.mp4"
    ffmpeg_run("-display_rotation", "90", "-i", str(landscape), "-c", "copy", str(path))
    return path
