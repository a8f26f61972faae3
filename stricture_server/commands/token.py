"""``stricture-server token create`` and ``token list``: service tokens for the access policy."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import yaml  # type: ignore[import-untyped]

from ..access.grants import Grants, parse_scope
from ..access.settings import AccessSettings
from ..access.tokens import ServiceToken, new_token, new_token_id, token_hash
from ..config.values import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``token`` subcommands."""
    actions = parser.add_subparsers(dest="action", metavar="action", required=True)
    create = actions.add_parser(
        "create",
        help="print a new service token once, and the configuration entry (its hash) to add",
    )
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        type=_scope,
        help="ACTIONS:ORG[/PROJECT[/SERVICE]], e.g. write,read:acme/payments/* (repeatable)",
    )
    create.add_argument("--note", default="", help="who or what the token is for")
    create.add_argument(
        "--expires", type=_expiry, help="expiry, RFC 3339 (e.g. 2027-01-31T00:00:00Z)"
    )
    create.add_argument("--id", type=_token_id, help="the token's id (default: a random one)")
    actions.add_parser("list", help="list the service tokens of the configuration file by id")


def _scope(raw: str) -> str:
    try:
        parse_scope(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return raw


def _expiry(raw: str) -> datetime:
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an RFC 3339 time, got {raw!r}") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{raw!r}: give a time zone (e.g. Z)")
    return when.astimezone(UTC)


def _token_id(raw: str) -> str:
    if not raw or len(raw) > 64 or not all(c.isalnum() or c in "._-" for c in raw):
        raise argparse.ArgumentTypeError("expected 1 to 64 of A-Z, a-z, 0-9, '.', '_', '-'")
    return raw


def create(args: argparse.Namespace, out: TextIO) -> int:
    """Print the token (shown once, never stored) and its configuration entry."""
    token = new_token()
    entry = ServiceToken(
        id=args.id or new_token_id(),
        hash=token_hash(token),
        grants=Grants(tuple(parse_scope(s) for s in args.scope)),
        scopes=tuple(args.scope),
        note=args.note,
        expires=args.expires,
    ).entry()
    out.write(f"{token}\n")
    out.write(
        "# The token above is shown only now. Add this entry under access.tokens in the\n"
        "# configuration file (it holds only the token's hash):\n"
    )
    out.write(yaml.safe_dump([entry], sort_keys=False))
    return 0


def list_tokens(section: Mapping[str, Any] | None, out: TextIO) -> int:
    """One line per configured token: id, scopes, expiry, note."""
    if section is None:
        raise ConfigError("token list: the configuration file has no access section")
    access = AccessSettings.from_section(section)
    now = datetime.now(UTC)
    for token in access.tokens:
        expiry = "never expires"
        if token.expires is not None:
            state = "expired" if now >= token.expires else "expires"
            expiry = f"{state} {token.expires.isoformat()}"
        note = f"  # {token.note}" if token.note else ""
        out.write(f"{token.id}  {' '.join(token.scopes)}  {expiry}{note}\n")
    return 0
