"""Run records: identity, canonical storage keys, and the bytes that are stored."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from ..errors import InvalidInput, Problem
from .identity import MAX_LENGTH, new_run_id, sanitize

LATEST = "latest"
"""The reserved run id: ``/v1/artifacts/{org}/{project}/{service}/latest`` is the latest run."""

MAX_DEPTH = 254
"""orjson's serialisation depth limit: the deepest JSON a record can hold."""


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """Who a run belongs to, in sanitised form: the stable half of every key."""

    organization: str
    project: str
    service: str
    run_id: str

    @property
    def location(self) -> str:
        """The record's path in the API."""
        return f"/v1/artifacts/{self.organization}/{self.project}/{self.service}/{self.run_id}"

    def service_prefix(self, prefix: str) -> str:
        """The key prefix under which every object of this service lives."""
        root = f"{prefix}/" if prefix else ""
        return f"{root}v1/org={self.organization}/project={self.project}/service={self.service}/"

    def payload_key(self, prefix: str, day: date) -> str:
        """The canonical key of the record, partitioned by service and UTC day."""
        return f"{self.service_prefix(prefix)}date={day.isoformat()}/run={self.run_id}/payload.json"

    def claim_key(self, prefix: str) -> str:
        """The date-free key that makes a run id unique per service, whatever the day."""
        return f"{self.service_prefix(prefix)}runs/run={self.run_id}.json"


def identity_from_path(organization: str, project: str, service: str, run_id: str) -> RunIdentity:
    """Sanitise path segments exactly as ingest sanitises the envelope."""
    values = {
        "organization": organization,
        "project": project,
        "service": service,
        "run_id": run_id,
    }
    return RunIdentity(**sanitized(values))


def sanitized(values: dict[str, str]) -> dict[str, str]:
    """Sanitise each named identity; :class:`InvalidInput` names each refused, empty or long one."""
    out: dict[str, str] = {}
    problems: list[Problem] = []
    for name, raw in values.items():
        try:
            clean = sanitize(raw)
        except ValueError as exc:
            problems.append(Problem(f"/{name}", f"{name} {exc}"))
            continue
        if not clean:
            problems.append(Problem(f"/{name}", f"{name} is empty after sanitising"))
        elif len(clean) > MAX_LENGTH:
            problems.append(Problem(f"/{name}", f"{name} is longer than {MAX_LENGTH} characters"))
        out[name] = clean
    if problems:
        raise InvalidInput("invalid identity", problems)
    return out


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A validated, normalised ingest, ready to store."""

    identity: RunIdentity
    day: date
    digest: str
    content: bytes
    """Canonical JSON of the normalised envelope (sorted keys): what ``digest`` covers."""

    def stored_bytes(self, received_at: str) -> bytes:
        """The record as stored: the canonical content with ``received_at`` and ``digest``.

        Spliced in front of the already serialised content rather than serialising the
        (possibly 10 MB) document a second time. The envelope schema forbids these two names,
        so the object never has a duplicate key.
        """
        head = orjson.dumps({"digest": self.digest, "received_at": received_at})
        # One copy: the join reads the content through a view instead of slicing a copy.
        return b"".join((head[:-1], b",", memoryview(self.content)[1:]))


def normalize(envelope: dict[str, Any], received: datetime) -> NewRecord:
    """Turn a schema-valid envelope into a record: sanitised ids, run id, digest, day."""
    given_run_id = envelope.get("run_id")
    ids = sanitized(
        {
            "organization": envelope["organization"],
            "project": envelope["project"],
            "service": envelope["service"],
            "run_id": given_run_id if given_run_id is not None else new_run_id(),
        }
    )
    if given_run_id is not None and ids["run_id"] == LATEST:
        problem = Problem(
            "/run_id", f"run_id {LATEST!r} is reserved: it names a service's latest run"
        )
        raise InvalidInput("invalid identity", [problem])
    identity = RunIdentity(**ids)
    normalised = {**envelope, **ids}
    if "commit_sha" in envelope:
        normalised["commit_sha"] = envelope["commit_sha"].lower()
    when = received
    if "generated_at" in envelope:
        when = parse_rfc3339(envelope["generated_at"])
    try:
        content = orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # The parser allows 1024 levels, the serialiser fewer: refuse what cannot be stored.
        problem = Problem("", f"JSON nested deeper than {MAX_DEPTH} levels")
        raise InvalidInput("the body is nested too deeply", [problem]) from None
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    return NewRecord(identity, when.astimezone(UTC).date(), digest, content)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time with an offset, as an aware datetime that has a UTC equivalent."""
    try:
        parsed = datetime.fromisoformat(text)
        # 0001-01-01T00:00:00+01:00 is a valid time with no UTC equivalent in Python.
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(
            "invalid generated_at", [Problem("/generated_at", f"{text!r} is not an RFC 3339 time")]
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInput(
            "invalid generated_at",
            [Problem("/generated_at", "an RFC 3339 time needs an offset or Z")],
        )
    return parsed
