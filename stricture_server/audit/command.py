"""``stricture-server audit seal`` and ``stricture-server audit verify``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

import orjson

from ..reads.query_params import parse
from ..runstore.records import sanitized
from ..settings import Settings
from ..storage import open_storage
from .events import SERVER_LOG
from .seals import log_organizations, seal_due
from .verify import verify_log


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``audit`` command and its two subcommands."""
    audit = commands.add_parser("audit", help="seal or verify the audit trail (docs/audit.md)")
    actions = audit.add_subparsers(dest="audit_command", metavar="action", required=True)
    actions.add_parser(
        "seal", help="seal every closed period of every audit log not sealed yet, then exit"
    )
    verify = actions.add_parser(
        "verify",
        help="walk each audit log's seal chain and report what is missing, altered or "
        "inserted, as JSON lines (exit 1 if anything is)",
    )
    verify.add_argument("--organization", help="only this organization's log")
    verify.add_argument("--server-log", action="store_true", help="only the server log")
    verify.add_argument("--from", dest="start", help="first UTC day checked, YYYY-MM-DD")
    verify.add_argument("--to", dest="end", help="last UTC day checked, YYYY-MM-DD")


def run(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run ``audit seal`` or ``audit verify``; the exit status."""
    storage = open_storage(settings)
    prefix = settings.object_prefix
    if args.audit_command == "seal":
        now_ms = int(time.time() * 1000)
        stored = seal_due(storage, prefix, now_ms, settings.audit_seal_seconds * 1000)
        for key in stored:
            print(key, file=out)
        return 0
    given = {k: [v] for k, v in (("from", args.start), ("to", args.end)) if v is not None}
    query = parse(given, ("from", "to"))
    if args.server_log:
        logs = [SERVER_LOG]
    elif args.organization is not None:
        logs = [sanitized({"organization": args.organization})["organization"]]
    else:
        logs = list(log_organizations(storage, prefix))
    intact = True
    for organization in logs:
        report = verify_log(storage, prefix, organization, query.start_ms, query.end_ms)
        intact &= report["intact"]
        print(orjson.dumps(report).decode(), file=out)
    return 0 if intact else 1
