"""The ``stricture-server`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from ..audit.command import add_arguments as add_audit_arguments
from ..push.command import add_arguments as add_push_arguments
from ..settings import PREFIX, ConfigError, Settings
from ..storage import check_object_store, require_sdk
from .token import add_arguments as add_token_arguments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stricture-server",
        description="Ingest server for lineage artifacts. Configured by STRICTURE_SERVER_* "
        "environment variables (see docs/configuration.md).",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version('stricture-server')}"
    )
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser("serve", help="serve the API with gunicorn (the default)")
    commands.add_parser(
        "replicate",
        help="mirror driver: copy every pending record to the object store once, then exit "
        "(non-zero if any failed or the store is unavailable)",
    )
    commands.add_parser(
        "deliver",
        help="run the periodic tasks once (send the alerts that are due), then exit "
        "(non-zero if the store is unavailable); for function mode and cron",
    )
    reindex = commands.add_parser(
        "reindex",
        help="rebuild the read API's index objects from the records (idempotent), then exit",
    )
    verify = commands.add_parser(
        "verify",
        help="read every record, claim and index object and report each corrupt one "
        "(exit 1 if any), then exit",
    )
    compact = commands.add_parser(
        "compact",
        help="make the change feed's compact of every closed day that has none (for a "
        "schedule; docs/compaction.md), then exit",
    )
    for command in (reindex, verify, compact):
        command.add_argument(
            "--jobs", type=_jobs, default=8, help="objects at a time, at least 1 (default 8)"
        )
        command.add_argument("--organization", help="only this organization's objects")
        command.add_argument("--project", help="only this project's (needs --organization)")
        command.add_argument("--service", help="only this service's (needs --project)")
    add_audit_arguments(commands)
    push = commands.add_parser(
        "push",
        help="send a CI run's artifact, diff and summary to a server (docs/ci.md); "
        "not configured by STRICTURE_SERVER_* variables",
    )
    add_push_arguments(push)
    token = commands.add_parser(
        "token",
        help="service tokens: create one (printed once, with its configuration entry) or list "
        "those of the configuration file (docs/access.md)",
    )
    add_token_arguments(token)
    return parser


def _jobs(raw: str) -> int:
    """``--jobs``: a positive number of records at a time (0 would never start one)."""
    try:
        jobs = int(raw)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {raw!r}")
    return jobs


def _scope(args: argparse.Namespace) -> tuple[str, ...]:
    """The sanitised reindex scope: organization, project, service, each needing the one before."""
    from .reindex import sanitized_scope

    given = (args.organization, args.project, args.service)
    scope = tuple(n for n in given if n is not None)
    if given[: len(scope)] != scope:
        raise ConfigError(
            f"{args.command}: --project needs --organization, --service needs --project"
        )
    try:
        return sanitized_scope(scope)
    except ValueError as exc:
        raise ConfigError(f"{args.command}: {exc}") from None


def _check_data_dir(settings: Settings) -> None:
    path = Path(settings.data_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{PREFIX}DATA_DIR={settings.data_dir!r}: cannot create it: {exc.strerror}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{PREFIX}DATA_DIR={settings.data_dir!r}: not writable")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, check the configuration, run the command."""
    args = _parser().parse_args(argv)
    if args.command == "push":
        # A client of a server elsewhere: none of the server's settings apply.
        from ..push.command import run

        return run(args, os.environ)
    if args.command == "token" and args.action == "create":
        # Needs no configuration: it prints a token and the entry to add to the file.
        from .token import create

        return create(args, sys.stdout)
    try:
        settings = Settings.from_env(os.environ)
        if settings.storage_driver in ("fs", "mirror"):
            _check_data_dir(settings)
        scope = _scope(args) if args.command in ("reindex", "verify", "compact") else ()
        if args.command == "replicate" and settings.storage_driver != "mirror":
            raise ConfigError(
                f"{PREFIX}STORAGE_DRIVER={settings.storage_driver!r}: "
                "replicate needs the mirror driver"
            )
        if args.command in (None, "serve", "deliver"):
            from ..alerts.setup import alerts_config

            alerts_config(settings)
        if args.command in (None, "serve", "reindex", "compact"):
            check_object_store(settings)
        require_sdk(settings)
        if args.command == "token":
            from .token import list_tokens

            return list_tokens(settings.config.section("access"), sys.stdout)
    except ConfigError as exc:
        print(f"stricture-server: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command in (None, "serve"):
        from ..serving.server import serve

        serve(settings)
    if args.command == "replicate":
        from .replicate import replicate_once

        return replicate_once(settings)
    if args.command == "deliver":
        from .deliver import deliver_command

        return deliver_command(settings)
    if args.command == "reindex":
        from .reindex import reindex_command

        return reindex_command(settings, args.jobs, sys.stderr.isatty(), scope)
    if args.command == "audit":
        from ..audit.command import run as audit

        return audit(settings, args)
    if args.command == "compact":
        from .compact import compact_command

        return compact_command(settings, args.jobs, scope)
    if args.command == "verify":
        from .verify import verify_command

        return verify_command(settings, args.jobs, sys.stderr.isatty(), scope)
    return 0
