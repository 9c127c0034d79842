"""`cliptrail` (client/main.py) run as its own process against the real stack."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tusclient.client import TusClient

from client.upload import States, state_key
from libs.settings import Settings
from tests.support import bearer, make_raw_video, make_video, stack

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 5 * 1024 * 1024
HIGHLIGHTS = '[{"start": 0, "end": 1.5, "title": "Hi", "styles": ["vertical"]}]'


def environment(base: str, settings: Settings, cache: Path, user: str = "alice") -> dict[str, str]:
    token = bearer(settings, user)["Authorization"].split()[1]
    return {
        **os.environ, "CLIPTRAIL_URL": base, "CLIPTRAIL_TOKEN": token,
        "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT),
    }  # fmt: skip


async def cliptrail(env: dict[str, str], *args: str) -> tuple[int, Any, str]:
    """Exit code, stdout (as JSON when it is), stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "client.main", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    try:
        return process.returncode, json.loads(out), err.decode()
    except ValueError:
        return process.returncode, out.decode(), err.decode()


async def test_projects_upload_status_and_clips(
    settings: Settings, bucket: Any, tmp_path: Path
) -> None:
    video = make_video(tmp_path / "clip.mp4")
    highlights = tmp_path / "highlights.json"
    highlights.write_text(HIGHLIGHTS)
    async with stack(settings) as base:
        env = environment(base, settings, tmp_path / "cache")
        code, created, _ = await cliptrail(env, "projects", "create", "demo")
        assert code == 0
        project = created["project_id"]
        code, listed, _ = await cliptrail(env, "projects")
        assert code == 0 and project in json.dumps(listed)
        args = ("--project", project)
        upload = ("upload", str(video), *args, "--highlights", str(highlights))
        code, sent, err = await cliptrail(env, *upload)
        assert code == 0, err
        assert sent["resumed_at"] == 0 and sent["video_id"]
        assert "100.0%" in err and "MiB/s" in err and "ETA" in err
        assert States(tmp_path / "cache" / "cliptrail" / "uploads.json").read() == {}
        wait = ("--wait", "--until", "stored", "--timeout", "60")
        code, status, _ = await cliptrail(env, "status", sent["video_id"], *args, *wait)
        assert code == 0 and status["status"] in ("stored", "rendering", "ready")
        assert status["size_bytes"] == video.stat().st_size
        code, _, err = await cliptrail(env, "clips", sent["video_id"], *args)
        assert code == 4 and "still being processed" in err
        assert (await cliptrail(env, "projects", "delete", project))[0] == 0
        code, listed, _ = await cliptrail(env, "projects")
        assert code == 0 and project not in json.dumps(listed)


async def test_refusals_print_the_problem_never_a_traceback(
    settings: Settings, bucket: Any, tmp_path: Path
) -> None:
    video = make_video(tmp_path / "clip.mp4")
    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    async with stack(settings) as base:
        env = environment(base, settings, tmp_path / "cache")
        code, created, _ = await cliptrail(env, "projects", "create", "demo")
        args = ("upload", str(video), "--project", created["project_id"])
        code, _, err = await cliptrail(env, *args, "--highlights", str(bad))
        assert code == 1 and ("422" in err or "400" in err), err
        assert "Traceback" not in err
        forged = {**env, "CLIPTRAIL_TOKEN": "not-a-token"}
        code, _, err = await cliptrail(forged, "projects")
        assert code == 1 and "401" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 2  # the title, then the detail
        no_token = {k: v for k, v in env.items() if k != "CLIPTRAIL_TOKEN"}
        assert (await cliptrail(no_token, "projects"))[0] == 2
    code, _, err = await cliptrail({**env, "CLIPTRAIL_URL": base}, "projects")
    assert code == 3 and "cannot reach" in err and "Traceback" not in err


def _first_chunks(endpoint: str, headers: dict[str, str], path: Path, chunks: int) -> str:
    """What an interrupted run leaves on the server: an upload `chunks` chunks in."""
    with path.open("rb") as stream:
        uploader = TusClient(endpoint, headers=headers).uploader(
            file_stream=stream, chunk_size=CHUNK, metadata={"filename": path.name}
        )
        uploader.upload(stop_at=chunks * CHUNK)
        return str(uploader.url)


async def test_an_interrupted_upload_resumes_from_the_state_file(
    settings: Settings, bucket: Any, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"multipart_part_bytes": CHUNK})
    video = make_raw_video(tmp_path / "big.mkv", megabytes=20)
    async with stack(settings) as base:
        env = environment(base, settings, tmp_path / "cache")
        code, created, _ = await cliptrail(env, "projects", "create", "demo")
        project = created["project_id"]
        endpoint = f"{base}/api/v1/projects/{project}/uploads"
        headers = bearer(settings, "alice")
        url = await asyncio.to_thread(_first_chunks, endpoint, headers, video, 2)
        states = States(tmp_path / "cache" / "cliptrail" / "uploads.json")
        states.put(state_key(base, project, video), url)
        args = ("upload", str(video), "--project", project, "--chunk-mib", "5")
        code, sent, err = await cliptrail(env, *args)
        assert code == 0, err
        assert sent["resumed_at"] == 2 * CHUNK and f"resuming at {2 * CHUNK} bytes" in err
        code, status, _ = await cliptrail(env, "status", sent["video_id"], "--project", project)
        assert code == 0 and status["size_bytes"] == video.stat().st_size
        assert states.read() == {}
