"""``stricture-server push``: its arguments, what it prints and its exit codes."""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path

import orjson

from .ci import detect
from .credentials import CredentialError, github_oidc_token, token_from_env
from .envelope import InputError, RunFiles, build_envelope, check_envelope
from .upload import Answer, RetryPolicy, Uploader

ACCEPTED = 0
"""Stored, or an identical replay of a stored run."""
FAILED = 1
"""Any other answer (a wrong URL's 404, a 500)."""
USAGE = 2
"""A bad command line or an unreadable input file (argparse exits with 2 too)."""
CONFLICT = 3
"""409: this run id is stored already with different content."""
AUTH = 4
"""401 or 403, or no OIDC token from the runner."""
INVALID = 5
"""400, 413 or 415: the server refused the content; or ``--dry-run`` found problems."""
UNAVAILABLE = 6
"""No final answer after every attempt: connection errors, 429, 502, 503, 504."""

URL_VARIABLE = "STRICTURE_URL"
TOKEN_VARIABLE = "STRICTURE_TOKEN"  # noqa: S105 (a variable's name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``push`` command's arguments."""
    parser.add_argument("artifact", type=Path, help="the lineage-export artifact (JSON)")
    parser.add_argument("--diff", type=Path, help="the lineage-diff report (JSON)")
    parser.add_argument("--summary", type=Path, help="a text summary of the run")
    parser.add_argument("--organization", default="", help="default: the CI's repository owner")
    parser.add_argument("--project", default="", help="default: the CI's repository name")
    parser.add_argument("--service", required=True, help="the service the artifact describes")
    parser.add_argument("--run-id", default="", help="default: the CI job attempt's id")
    parser.add_argument("--commit-sha", default="", help="default: the CI's commit")
    parser.add_argument("--generated-at", default="", help="RFC 3339; default: the CI's, if any")
    parser.add_argument(
        "--metadata", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    parser.add_argument("--url", default="", help=f"the server; default: ${URL_VARIABLE}")
    parser.add_argument(
        "--token-env",
        default=TOKEN_VARIABLE,
        metavar="NAME",
        help=f"the variable holding the bearer token (default {TOKEN_VARIABLE})",
    )
    parser.add_argument(
        "--oidc-audience",
        default="",
        help="on GitHub Actions: send an OIDC token for this audience",
    )
    parser.add_argument("--attempts", type=_positive(int), default=5, help="default 5")
    parser.add_argument(
        "--max-delay", type=_positive(float), default=30.0, help="longest wait, s (default 30)"
    )
    parser.add_argument(
        "--timeout", type=_positive(float), default=60.0, help="per attempt, s (default 60)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check the files against the schemas; send nothing"
    )


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(raw: str) -> int | float:
        try:
            value = kind(raw)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {raw!r}")
        return value

    return parse


def _metadata(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--metadata {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _fail(code: int, message: str) -> int:
    print(f"stricture-server push: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Build, check and send the run; the exit code."""
    job = detect(env)
    try:
        files = RunFiles(
            artifact=args.artifact,
            diff=args.diff,
            summary=args.summary,
            organization=args.organization,
            project=args.project,
            service=args.service,
            run_id=args.run_id,
            commit_sha=args.commit_sha,
            generated_at=args.generated_at,
            metadata=_metadata(args.metadata),
        )
        envelope = build_envelope(files, job)
    except InputError as exc:
        return _fail(USAGE, str(exc))
    if args.dry_run:
        problems = check_envelope(envelope)
        for problem in problems:
            print(f"{problem.path or '/'}: {problem.message}", file=sys.stderr)
        if problems:
            return _fail(INVALID, f"{len(problems)} problem(s); nothing was sent")
        print("valid: the server would accept these files (nothing was sent)")
        return ACCEPTED
    url = args.url or env.get(URL_VARIABLE, "")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return _fail(USAGE, f"--url or ${URL_VARIABLE}: expected an http(s) URL, got {url!r}")
    try:
        if args.oidc_audience:
            token = github_oidc_token(env, args.oidc_audience, args.timeout)
        else:
            token = token_from_env(env, args.token_env)
    except CredentialError as exc:
        return _fail(AUTH, str(exc))
    policy = RetryPolicy(attempts=args.attempts, max_delay=args.max_delay, timeout=args.timeout)
    report = lambda line: print(f"stricture-server push: {line}", file=sys.stderr)  # noqa: E731
    answer = Uploader(url, policy, token=token, report=report).send(envelope)
    return _outcome(url, answer)


def _outcome(url: str, answer: Answer) -> int:
    if answer.status == 202:
        print(urllib.parse.urljoin(url, answer.location))
        return ACCEPTED
    detail = str(answer.body.get("error", "")) or answer.reason
    for problem in answer.body.get("problems", [])[:20]:
        if isinstance(problem, dict):
            print(f"{problem.get('path') or '/'}: {problem.get('message')}", file=sys.stderr)
    if answer.status == 0 or answer.status in (429, 502, 503, 504):
        status = f"HTTP {answer.status}: " if answer.status else ""
        return _fail(UNAVAILABLE, f"gave up: {status}{detail}")
    codes = {409: CONFLICT, 401: AUTH, 403: AUTH, 400: INVALID, 413: INVALID, 415: INVALID}
    code = codes.get(answer.status, FAILED)
    if answer.status == 409:
        detail = f"{detail} ({urllib.parse.urljoin(url, answer.location)})"
    return _fail(code, f"HTTP {answer.status}: {detail or orjson.dumps(answer.body).decode()}")
