"""The mandated floor: the floor plus the work the issues require of every ingest, nothing else.

On top of :mod:`floor` (read, parse, one durable file), an ingest measures the body before
parsing it (:func:`measure`: its JSON values and nesting counted on its bytes, so that a body
over the limits is refused before any object is built, issue 10; the project's own bytes-only
measure, the leanest we know), then runs :data:`STEPS`, in order, each in its leanest form,
each file with the floor's durable create:

- ``validate``: the envelope, the artifact and the diff against their schemas (jsonschema-rs,
  the project's schema files, with the faster equivalent patterns the server decides with);
- ``digest``: the canonical serialisation (sorted keys) and its sha256, the record's digest;
- ``claim``: the run id claimed at a date-free key;
- ``record``: the record at its canonical dated key, in a run directory of its own
  (``.../date=<day>/run=<id>/payload.json``);
- ``index entry``: the run's index entry with the diff's changes (the read API);
- ``organization entry``: an empty entry named by the run's place in its organization's feed,
  so the org-wide feed lists an organization's runs in one listing (issue 16);
- ``lineage feed entry``: the run's lineage graph (the project's ``RunGraph``, with its service
  and time) as the org's feed entry in the day's directory, the per-run derived object of
  issue 12;
- ``blast radius``: the diff's impact on the org graph (the project's ``classify_run`` at the
  server's default depth, with no registry), written beside the record (issue 12). The org
  graph is kept in memory and holds every service's latest run whichever process stored it:
  the day's feed directory is listed and the entries this process has not seen yet (other
  workers') are read and merged, as the issue requires of a blast radius at ingest;
- ``alert outbox``: when the diff holds a ``high`` change, one alert holding those changes in
  the org's outbox (issue 13: the default rule's severity; its impact class is the blast
  radius's);
- ``audit event``: the request's audit event, one small object named by inverted time and a
  random part in the org's log (issue 14).

No routing, auth, sanitising, logging or error handling: what stricture-server spends beyond
this is its own overhead. A new mandatory step is one more function in :data:`STEPS`.
Run as ``gunicorn mandated:app`` with ``FLOOR_DATA_DIR`` set; ``FLOOR_DATA_DIR=<dir>
.venv/bin/python benchmarks/mandated.py [ingests]`` prints what each step costs in process
(the table of ``docs/performance.md``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
from floor import create

from stricture_server.blast.state import Latest, entry_bytes, merge, parse_entry
from stricture_server.ingest.body import MAX_DEPTH
from stricture_server.ingest.equivalent_forms import deciding_form
from stricture_server.ingest.json_shape import shape
from stricture_server.lineage.documents import compact_impact_document
from stricture_server.lineage.edges import RunGraph
from stricture_server.lineage.graph import Location, OrgGraph
from stricture_server.lineage.impact import classify_run
from stricture_server.serving.heap import settle
from stricture_server.settings import Settings

ROOT = os.environ.get("FLOOR_DATA_DIR", "floor-data")
SCHEMAS = Path(__file__).resolve().parent.parent / "stricture_server" / "schemas"
DEPTH = Settings().lineage_depth
MAX_VALUES = Settings().max_json_values


def _validator(name: str) -> Any:
    schema = orjson.loads((SCHEMAS / f"{name}.schema.json").read_bytes())
    return jsonschema_rs.Draft202012Validator(deciding_form(schema), validate_formats=True)


ENVELOPE, ARTIFACT, DIFF = (_validator(n) for n in ("envelope", "lineage-artifact", "lineage-diff"))


def _create(directory: str, name: str, data: bytes) -> None:
    """The floor's durable create, in ``directory`` (made first, durably, if it is new)."""
    if not os.path.isdir(directory):
        os.makedirs(directory)
        parent = os.open(os.path.dirname(directory), os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(parent)
        os.close(parent)
    create(directory, name, data)


def measure(body: bytes) -> None:
    """The body's JSON values and nesting, counted on its bytes before it is parsed."""
    found = shape(body, max_values=MAX_VALUES)
    if found.values > MAX_VALUES or found.depth > MAX_DEPTH:
        raise ValueError("the benchmark bodies are within the limits")


@dataclass
class Run:
    """One ingest as the steps pass it along."""

    document: dict[str, Any]
    root: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    received: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    content: bytes = b""
    digest: str = ""
    graph: RunGraph | None = None

    @property
    def service(self) -> str:
        """The service's directory."""
        d = self.document
        return f"{self.root}/{d['organization']}/{d['project']}/{d['service']}"

    @property
    def run_dir(self) -> str:
        """The run's own directory, beside which its derived objects go."""
        return f"{self.service}/date={self.received[:10]}/run={self.run_id}"


ORG_GRAPHS: dict[str, dict[Location, Latest]] = {}
"""The latest run of each service, per organization, whichever process stored it."""
SEEN: dict[str, set[str]] = {}
"""The feed entries merged into :data:`ORG_GRAPHS`, per feed directory."""


def validate(run: Run) -> None:
    """The envelope, artifact and diff checked against the schemas."""
    d = run.document
    ok = ENVELOPE.is_valid(d) and ARTIFACT.is_valid(d["artifact"])
    if not ok or ("diff" in d and not DIFF.is_valid(d["diff"])):
        raise ValueError("the benchmark bodies are valid")
    run.run_id = d.get("run_id") or run.run_id


def digest(run: Run) -> None:
    """The canonical serialisation and its sha256."""
    run.content = orjson.dumps(run.document, option=orjson.OPT_SORT_KEYS)
    run.digest = "sha256:" + hashlib.sha256(run.content).hexdigest()


def claim(run: Run) -> None:
    """The run id claimed at a date-free key."""
    body = orjson.dumps({"digest": run.digest, "received_at": run.received})
    _create(f"{run.service}/runs", f"run={run.run_id}.json", body)


def record(run: Run) -> None:
    """The record in its own run directory."""
    head = orjson.dumps({"digest": run.digest, "received_at": run.received})
    _create(run.run_dir, "payload.json", head + run.content)


def index_entry(run: Run) -> None:
    """The index entry with the diff's changes."""
    changes = run.document.get("diff", {}).get("changes", [])
    entry = orjson.dumps({"run_id": run.run_id, "received_at": run.received, "changes": changes})
    _create(f"{run.service}/index", f"{run.received}-{run.run_id}.json", entry)


def _here(run: Run) -> Location:
    d = run.document
    return Location(d["organization"], d["project"], d["service"])


def _feed_dir(run: Run) -> str:
    return f"{run.root}/{run.document['organization']}/feed/{run.received[:10]}"


def org_entry(run: Run) -> None:
    """The empty entry of the run in its organization's feed."""
    org = run.document["organization"]
    _create(f"{run.root}/{org}/runs", f"{run.received}-{run.run_id}", b"")


def feed_entry(run: Run) -> None:
    """The run's lineage graph, with its service and time, as the org's feed entry."""
    run.graph = RunGraph.from_artifact(run.document["artifact"], run.run_id)
    name = f"{run.received}-{run.run_id}.json"
    here, time_ms = _here(run), time.time_ns() // 1_000_000
    _create(_feed_dir(run), name, entry_bytes(here, time_ms, run.graph))
    SEEN.setdefault(_feed_dir(run), set()).add(name)
    merge(
        ORG_GRAPHS.setdefault(here.organization, {}), here, Latest(time_ms, run.run_id, run.graph)
    )


def _catch_up(run: Run) -> dict[Location, Latest]:
    """The org's latest runs, with the feed entries other processes wrote since merged."""
    directory = _feed_dir(run)
    seen = SEEN.setdefault(directory, set())
    latest = ORG_GRAPHS.setdefault(run.document["organization"], {})
    for name in set(os.listdir(directory)) - seen:
        with open(f"{directory}/{name}", "rb") as entry:
            merge(latest, *parse_entry(orjson.loads(entry.read())))
        seen.add(name)
    return latest


def blast_radius(run: Run) -> None:
    """The diff's impact on the org graph (with this run's graph), beside the record."""
    if "diff" not in run.document or run.graph is None:
        return
    graph = OrgGraph({loc: latest.graph for loc, latest in _catch_up(run).items()})
    impact = classify_run(
        run.document["diff"], graph, _here(run), field_systems=run.graph.fields, depth=DEPTH
    )
    _create(run.run_dir, "blast-radius.json", orjson.dumps(compact_impact_document(impact)))


def alert_outbox(run: Run) -> None:
    """The alert of the diff's high changes, in the org's outbox."""
    changes = run.document.get("diff", {}).get("changes", [])
    high = [c for c in changes if c.get("severity") == "high"]
    if high:
        alert = orjson.dumps({"run_id": run.run_id, "received_at": run.received, "changes": high})
        org = run.document["organization"]
        _create(f"{run.root}/{org}/alerts", f"{run.received}-{run.run_id}.json", alert)


def audit_event(run: Run) -> None:
    """The request's audit event in the org's log."""
    d = run.document
    event = orjson.dumps(
        {
            "time": run.received,
            "identity": {"kind": "shared", "id": "shared"},
            "action": "ingest",
            "target": [d["organization"], d["project"], d["service"], run.run_id],
            "result": "accepted",
            "digest": run.digest,
        }
    )
    inverted = 10**13 - 1 - time.time_ns() // 1_000_000
    name = f"{inverted:013d}-{secrets.token_hex(8)}.json"
    _create(f"{run.root}/{d['organization']}/audit", name, event)


STEPS: list[Callable[[Run], None]] = [
    validate,
    digest,
    claim,
    record,
    index_entry,
    org_entry,
    feed_entry,
    blast_radius,
    alert_outbox,
    audit_event,
]
"""What every ingest must do, in order; each step reads what the ones before it made."""

STEP_NAMES = {
    validate: "validate (envelope, artifact, diff)",
    digest: "canonical serialisation and sha256",
    claim: "claim (durable create)",
    record: "record in its run directory (durable create)",
    index_entry: "index entry with the diff's changes (durable create)",
    org_entry: "organization feed entry, empty (durable create)",
    feed_entry: "lineage graph derived, as the org feed entry (durable create)",
    blast_radius: "others' feed entries merged, blast radius stored (durable create)",
    alert_outbox: "alert of the high changes in the outbox (durable create)",
    audit_event: "audit event (durable create)",
}


# The collector settings a stricture-server worker makes once its app is built (its
# serving.heap): the floor gets them too, so the comparison holds the work, not the runtime's
# settings. Called at import, which is in the worker after the fork (no preload).
settle()


def ingest(body: bytes, root: str) -> None:
    """One ingest of the mandated floor: the measure before parsing, the parse, every step."""
    measure(body)
    run = Run(orjson.loads(body), root)
    for step in STEPS:
        step(run)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read, parse, run every step, answer 202."""
    if environ["REQUEST_METHOD"] == "GET":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"ok"}']
    length = int(environ.get("CONTENT_LENGTH") or 0)
    ingest(environ["wsgi.input"].read(length), ROOT)
    start_response("202 Accepted", [("Content-Type", "application/json")])
    return [b'{"accepted":true}']


def step_costs(body: bytes, runs: int, work: Path) -> list[tuple[str, float, float]]:
    """Each step's median wall and CPU ms over ``runs`` ingests of ``body``, in process."""
    wall: dict[str, list[float]] = {STEP_NAMES[s]: [] for s in STEPS}
    cpu: dict[str, list[float]] = {STEP_NAMES[s]: [] for s in STEPS}
    root = tempfile.mkdtemp(prefix="mandated-steps-", dir=work)
    measure_wall: list[float] = []
    measure_cpu: list[float] = []
    parse_wall: list[float] = []
    parse_cpu: list[float] = []
    for n in range(runs):
        started, used = time.perf_counter(), time.process_time()
        measure(body)
        measure_wall.append(time.perf_counter() - started)
        measure_cpu.append(time.process_time() - used)
        started, used = time.perf_counter(), time.process_time()
        document = orjson.loads(body)
        parse_wall.append(time.perf_counter() - started)
        parse_cpu.append(time.process_time() - used)
        run = Run({**document, "run_id": f"steps-{n}"}, root)
        for step in STEPS:
            started, used = time.perf_counter(), time.process_time()
            step(run)
            wall[STEP_NAMES[step]].append(time.perf_counter() - started)
            cpu[STEP_NAMES[step]].append(time.process_time() - used)
    found = [
        ("values and nesting counted before parsing", _ms(measure_wall), _ms(measure_cpu)),
        ("parse (the floor's too)", _ms(parse_wall), _ms(parse_cpu)),
    ]
    return found + [(name, _ms(wall[name]), _ms(cpu[name])) for name in wall]


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    """Print what each step costs: a table, or JSON with ``--json`` (for the suite)."""
    from bodies import bodies

    work = Path(ROOT).resolve()
    real = bodies(large=False)[1]
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    costs = step_costs(real.with_run_id("x"), runs, work)
    if "--json" in sys.argv:
        print(orjson.dumps(costs).decode())
        return
    print(f"{real.name}, {runs} ingests in process (medians):")
    print("| step | wall ms | CPU ms |\n|---|---:|---:|")
    for name, wall_ms, cpu_ms in costs:
        print(f"| {name} | {wall_ms:.3f} | {cpu_ms:.3f} |")


if __name__ == "__main__":
    main()
