"""Operators' admin commands without HTTP: the same code as the debug endpoints.

    python -m services.tracking.cli cleanup-project PROJECT_ID [--user-id U] [--apply]
                                                   [--records-only]
    python -m services.tracking.cli reconcile [--prefix P] [--apply]
    python -m services.tracking.cli usage [--group-by user|project]
    python -m services.tracking.cli deadletters list [--after SEQ] [--limit N]
    python -m services.tracking.cli deadletters show SEQ | replay SEQ | purge [SEQ]

Without --apply, cleanup and reconcile are dry runs. Storage must be running (it holds the R2
credentials); settings come from the environment and .env as for the services. NATS: the
identity the settings name (NATS_NKEY_SEED_FILE / NATS_CREDS_FILE), else the admin seed that
`make run` keeps in $CLIPTRAIL_DATA_DIR/secrets/admin.nk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from libs.errors import CliptrailError
from libs.messaging.dead_letters import NatsDeadLetters
from libs.messaging.events import CleanupCommand, DeadLetterCommand, ReconcileCommand
from libs.messaging.permissions import ADMIN
from libs.runtime.wiring import as_admin, open_bus, open_records, topology_of
from libs.settings import Settings
from libs.storage.storage_client import StorageClient
from services.tracking.deadletters import DeadLetters
from services.tracking.service import TrackingService

PROG = "python -m services.tracking.cli"


def parser(prog: str = PROG) -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    cleanup = commands.add_parser("cleanup-project", help="delete a project's objects and records")
    cleanup.add_argument("project_id")
    cleanup.add_argument("--user-id", help="the owner, if neither records nor a tombstone know it")
    cleanup.add_argument("--apply", action="store_true", help="really delete (default: dry run)")
    cleanup.add_argument("--records-only", action="store_true", help="drop records, keep objects")
    reconcile = commands.add_parser("reconcile", help="compare the bucket with the ledger")
    reconcile.add_argument("--prefix", default="")
    reconcile.add_argument("--apply", action="store_true", help="fix what it finds")
    usage = commands.add_parser("usage", help="bytes and objects from the ledger")
    usage.add_argument("--group-by", choices=("user", "project"), default="user")
    letters = commands.add_parser("deadletters", help="list, show, replay or purge dead letters")
    letters.add_argument("action", choices=("list", "show", "replay", "purge"))
    letters.add_argument("seq", nargs="?", type=int, help="a dead letter's sequence number")
    letters.add_argument("--after", type=int, default=0, help="list: after this sequence")
    letters.add_argument("--limit", type=int, default=100)
    return root


async def dead_letters(settings: Settings, command: DeadLetterCommand) -> Any:
    """What `deadletters` does; the admin endpoints run the same DeadLetters.run in tracking."""
    async with open_bus(settings, ADMIN) as bus:
        letters = DeadLetters(NatsDeadLetters(bus), bus.topology)
        return (await letters.run(command)).model_dump(mode="json", exclude={"version"})


async def run(settings: Settings, args: argparse.Namespace) -> Any:
    settings = as_admin(settings)
    if args.command == "deadletters":
        letters = DeadLetterCommand(
            action=args.action, seq=args.seq, after=args.after, limit=args.limit
        )
        return await dead_letters(settings, letters)
    async with open_bus(settings, ADMIN) as bus, open_records(settings) as records:
        storage = StorageClient(bus, topology_of(settings), timeout=600.0)
        service = TrackingService(records, storage, settings.reconcile_grace_seconds)
        if args.command == "usage":
            return [row.model_dump() for row in await records.usage(args.group_by)]
        if args.command == "reconcile":
            command = ReconcileCommand(prefix=args.prefix, dry_run=not args.apply)
            return (await service.admin_reconcile(command)).as_dict()
        cleanup = CleanupCommand(
            project_id=args.project_id,
            user_id=args.user_id,
            dry_run=not args.apply,
            delete_records_only=args.records_only,
        )
        return (await service.admin_cleanup(cleanup)).as_dict()


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Also `cliptrail admin ...` (client/main.py), under that name."""
    args = parser(prog).parse_args(argv)
    try:
        result = asyncio.run(run(Settings(), args))
    except CliptrailError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
