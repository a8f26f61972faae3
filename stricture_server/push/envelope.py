"""The ingest envelope built from the files a CI job produced, and its local schema check."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import Problem
from ..ingest.validation import EnvelopeValidator
from .ci import CiJob


class InputError(Exception):
    """A file given on the command line cannot be read or is not what it should be."""


@dataclass(frozen=True, slots=True)
class RunFiles:
    """What one run sends: the artifact file, optional diff and summary, names and ids."""

    artifact: Path
    organization: str
    project: str
    service: str
    diff: Path | None = None
    summary: Path | None = None
    run_id: str = ""
    commit_sha: str = ""
    generated_at: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


def _json(path: Path, what: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot read it: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{what} {path}: not JSON: {exc}") from None


def _text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {path}: not UTF-8 text") from None


def build_envelope(files: RunFiles, job: CiJob) -> dict[str, Any]:
    """The body of ``POST /v1/artifacts``; what the command line leaves out comes from ``job``."""
    envelope: dict[str, Any] = {
        "organization": files.organization or job.organization,
        "project": files.project or job.project,
        "service": files.service,
        "artifact": _json(files.artifact, "artifact"),
    }
    optional = {
        "run_id": files.run_id or job.run_id,
        "commit_sha": files.commit_sha or job.commit_sha,
        "generated_at": files.generated_at or job.generated_at,
    }
    envelope.update({name: value for name, value in optional.items() if value})
    if files.diff is not None:
        envelope["diff"] = _json(files.diff, "diff")
    if files.summary is not None:
        envelope["summary"] = _text(files.summary, "summary")
    metadata = {"ci": job.provider, "ci_url": job.url}
    metadata = {name: value for name, value in metadata.items() if value}
    metadata.update(files.metadata)
    if metadata:
        envelope["metadata"] = metadata
    return envelope


def check_envelope(envelope: dict[str, Any]) -> list[Problem]:
    """Every problem the server's own schemas find, as a server in ``schema`` mode checks."""
    return EnvelopeValidator(strict=True, max_errors=50).problems(envelope)
