"""`cliptrail`: the command line for people; settings from CLIPTRAIL_URL and CLIPTRAIL_TOKEN.

    cliptrail projects [create NAME | delete ID]
    cliptrail upload FILE --project ID [--highlights FILE] [--chunk-mib N]
    cliptrail status VIDEO --project ID [--wait [--until STATUS] [--timeout S]]
    cliptrail clips VIDEO --project ID [--download DIR]
    cliptrail admin ...   (the operators' commands: python -m services.tracking.cli)

Exit codes: 0 done; 1 the server refused (its title and detail are printed); 2 usage (bad
arguments, CLIPTRAIL_TOKEN unset, an unreadable file); 3 the server cannot be reached; 4 not
there yet (clips still being processed, or --wait timed out); 130 interrupted (an upload
resumes when the same command runs again).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from client.api import Api, Problem, Unreachable
from client.upload import MIB, States, state_path, upload

OK, PROBLEM, USAGE, UNREACHABLE, NOT_YET, INTERRUPTED = 0, 1, 2, 3, 4, 130
ORDER = ("uploading", "stored", "rendering", "ready")


class Usage(Exception):
    """Arguments or environment the command cannot run with."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="cliptrail", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = root.add_subparsers(dest="command", required=True)
    projects = commands.add_parser("projects", help="list, create or delete projects")
    projects.add_argument("action", nargs="?", choices=("create", "delete"))
    projects.add_argument("value", nargs="?", help="create: the name; delete: the project id")
    sent = commands.add_parser("upload", help="upload a video (resumable)")
    sent.add_argument("file", type=Path)
    sent.add_argument("--project", required=True)
    sent.add_argument("--highlights", type=Path, help="a highlights JSON file")
    sent.add_argument("--chunk-mib", type=int, default=16, help="MiB per request (default 16)")
    status = commands.add_parser("status", help="a video's status")
    status.add_argument("video")
    status.add_argument("--project", required=True)
    status.add_argument("--wait", action="store_true", help="until --until (or failed)")
    status.add_argument("--until", choices=ORDER[1:], default="ready")
    status.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    clips = commands.add_parser("clips", help="a video's clips")
    clips.add_argument("video")
    clips.add_argument("--project", required=True)
    clips.add_argument("--download", type=Path, metavar="DIR", help="save the clips there")
    commands.add_parser(
        "admin", help="operators' commands (see `cliptrail admin -h`)", add_help=False
    )
    return root


def projects(api: Api, args: argparse.Namespace) -> Any:
    if args.action is None:
        return api.projects()
    if args.value is None:
        raise Usage(
            f"projects {args.action} needs a {'name' if args.action == 'create' else 'project id'}"
        )
    if args.action == "create":
        return api.create_project(args.value)
    api.delete_project(args.value)
    return {"deleted": args.value}


def send(api: Api, args: argparse.Namespace) -> Any:
    if not args.file.is_file():
        raise Usage(f"no such file: {args.file}")
    highlights = _read(args.highlights) if args.highlights else None
    chunk = args.chunk_mib * MIB
    sent = upload(api, States(state_path()), args.project, args.file, highlights, chunk)
    return {"video_id": sent.video_id, "resumed_at": sent.resumed_at}


def status(api: Api, args: argparse.Namespace) -> tuple[int, Any]:
    video = api.video(args.project, args.video)
    deadline = time.monotonic() + args.timeout
    while args.wait and not _reached(video["status"], args.until):
        if time.monotonic() > deadline:
            return NOT_YET, video
        time.sleep(1.0)
        video = api.video(args.project, args.video)
    return OK, video


def clips(api: Api, args: argparse.Namespace) -> tuple[int, Any]:
    code, body = api.clips(args.project, args.video)
    if code == 202:
        print(f"{body['detail']} (status: {body['status']})", file=sys.stderr)
        return NOT_YET, body
    if args.download:
        args.download.mkdir(parents=True, exist_ok=True)
        for clip in body["clips"]:
            api.download(clip["url"], args.download / clip["r2_key"].rsplit("/", 1)[-1])
    return OK, body


def _reached(current: str, until: str) -> bool:
    return current == "failed" or (current in ORDER and ORDER.index(current) >= ORDER.index(until))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise Usage(f"cannot read {path}: {exc.strerror}") from exc


def dispatch(args: argparse.Namespace) -> int:
    token = os.environ.get("CLIPTRAIL_TOKEN")
    if not token:
        raise Usage("set CLIPTRAIL_TOKEN to your bearer token")
    api = Api(os.environ.get("CLIPTRAIL_URL", "http://127.0.0.1:8080"), token)
    commands = {"projects": projects, "upload": send, "status": status, "clips": clips}
    answer = commands[args.command](api, args)
    code, body = answer if isinstance(answer, tuple) else (OK, answer)
    print(json.dumps(body, indent=2))
    return int(code)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["admin"]:
        from services.tracking import cli  # the operators' commands need the services' settings

        return cli.main(argv[1:], prog="cliptrail admin")
    try:
        return dispatch(parser().parse_args(argv))
    except Usage as exc:
        print(f"cliptrail: {exc}", file=sys.stderr)
        return USAGE
    except Problem as problem:
        print(f"cliptrail: {problem.title} ({problem.status})\n{problem.detail}", file=sys.stderr)
        return PROBLEM
    except Unreachable as exc:
        print(f"cliptrail: {exc}", file=sys.stderr)
        return UNREACHABLE
    except KeyboardInterrupt:
        print("\ncliptrail: interrupted (run the same upload again to resume)", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
