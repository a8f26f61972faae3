"""The mandated floor: the floor plus the work the issues require of every ingest, nothing else.

On top of :mod:`floor` (read, parse, one durable file), an ingest must: check the envelope,
the artifact and the diff against their schemas (jsonschema-rs, the project's schema files);
serialise the envelope canonically (sorted keys) and hash it with sha256, the record's digest;
claim the run id at a date-free key and write the record at its canonical dated key, in a run
directory of its own (``.../date=<day>/run=<id>/payload.json``); and write the run's index
entry (the read API); derive the run's lineage graph (the project's ``RunGraph``) and write
it twice, beside the record and as the org's feed entry (issue 12); when the diff holds a
``high`` change, write one alert to the org's outbox holding those changes (issue 13: the
default rule's severity; its impact class needs the blast radius); and write the request's
audit event, one small object named by inverted time and a random part in the org's log
(issue 14). Each file with the floor's durable create. The blast radius is left out: it needs
an org graph, which the floor has not. No routing, auth, sanitising, logging or error
handling: what stricture-server spends beyond this is its own overhead.
Run as ``gunicorn mandated:app`` with ``FLOOR_DATA_DIR`` set.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
from floor import create

from stricture_server.lineage.edges import RunGraph

ROOT = os.environ.get("FLOOR_DATA_DIR", "floor-data")
SCHEMAS = Path(__file__).resolve().parent.parent / "stricture_server" / "schemas"


def _validator(name: str) -> Any:
    schema = orjson.loads((SCHEMAS / f"{name}.schema.json").read_bytes())
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


ENVELOPE, ARTIFACT, DIFF = (_validator(n) for n in ("envelope", "lineage-artifact", "lineage-diff"))


def _create(directory: str, name: str, data: bytes) -> None:
    """The floor's durable create, in ``directory`` (made first, durably, if it is new)."""
    if not os.path.isdir(directory):
        os.makedirs(directory)
        parent = os.open(os.path.dirname(directory), os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(parent)
        os.close(parent)
    create(directory, name, data)


def _store(document: dict[str, Any]) -> None:
    ok = ENVELOPE.is_valid(document) and ARTIFACT.is_valid(document["artifact"])
    if not ok or ("diff" in document and not DIFF.is_valid(document["diff"])):
        raise ValueError("the benchmark bodies are valid")
    run_id = document.get("run_id") or uuid.uuid4().hex
    received = datetime.now(UTC).isoformat()
    content = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    service = f"{ROOT}/{document['organization']}/{document['project']}/{document['service']}"
    claim = orjson.dumps({"digest": digest, "received_at": received})
    _create(f"{service}/runs", f"run={run_id}.json", claim)
    head = orjson.dumps({"digest": digest, "received_at": received})
    _create(f"{service}/date={received[:10]}/run={run_id}", "payload.json", head + content)
    changes = document.get("diff", {}).get("changes", [])
    entry = orjson.dumps({"run_id": run_id, "received_at": received, "changes": changes})
    _create(f"{service}/index", f"{received}-{run_id}.json", entry)
    graph = RunGraph.from_artifact(document["artifact"], run_id).to_json()
    _create(f"{service}/date={received[:10]}/run={run_id}", "lineage-graph.json", graph)
    _create(f"{ROOT}/{document['organization']}/feed", f"{received}-{run_id}.json", graph)
    high = [c for c in changes if c.get("severity") == "high"]
    if high:
        alert = orjson.dumps({"run_id": run_id, "received_at": received, "changes": high})
        _create(f"{ROOT}/{document['organization']}/alerts", f"{received}-{run_id}.json", alert)
    event = orjson.dumps(
        {
            "time": received,
            "identity": {"kind": "shared", "id": "shared"},
            "action": "ingest",
            "target": [document["organization"], document["project"], document["service"], run_id],
            "result": "accepted",
            "digest": digest,
        }
    )
    inverted = 10**13 - 1 - time.time_ns() // 1_000_000
    name = f"{inverted:013d}-{secrets.token_hex(8)}.json"
    _create(f"{ROOT}/{document['organization']}/audit", name, event)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read, parse, check, digest, store the claim, record and index entry, answer 202."""
    if environ["REQUEST_METHOD"] == "GET":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"ok"}']
    length = int(environ.get("CONTENT_LENGTH") or 0)
    _store(orjson.loads(environ["wsgi.input"].read(length)))
    start_response("202 Accepted", [("Content-Type", "application/json")])
    return [b'{"accepted":true}']
