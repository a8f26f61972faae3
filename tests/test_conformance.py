"""One table of HTTP cases, run through every delivery (see ``DELIVERIES`` in conftest).

Each case is a request in and a status, headers and JSON body out; accepted ingests also
check the canonical key in the store. Only the ``deployment`` fixture knows the runtime.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from stricture_server import Settings
from stricture_server.ingest.body import MAX_DEPTH
from stricture_server.ingest.validation import COUNT_LIMIT, MESSAGE_LIMIT
from stricture_server.runstore.index import ServiceRef

from . import factory
from .conftest import MAX_BODY, TOKEN
from .damage import plant, plant_index_entry, truncated
from .deliveries import Deployment, PlatformRefused, Reply
from .function_deliveries import FUNCTION_DELIVERIES

AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json", **AUTH}


def body_of(document: Any) -> bytes:
    """Serialise a test document (stdlib json: it nests deeper than orjson)."""
    return json.dumps(document).encode()


@dataclass(frozen=True)
class Case:
    """A request and what every runtime must answer to it."""

    name: str
    method: str
    path: str
    status: int
    body: Callable[[], bytes] = lambda: b""
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    expect_json: dict[str, Any] = field(default_factory=dict)
    """Keys that must be in the response JSON with these values."""
    expect_headers: dict[str, str] = field(default_factory=dict)
    problem_paths: tuple[str, ...] = ()
    """JSON pointers that must each be named in ``problems``."""


def post(name: str, status: int, document: Callable[[], Any], **kw: Any) -> Case:
    """A ``POST /v1/artifacts`` case with a JSON body."""
    return Case(name, "POST", "/v1/artifacts", status, lambda: body_of(document()), **kw)


def raw(name: str, status: int, data: bytes | Callable[[], bytes], **kw: Any) -> Case:
    """A ``POST /v1/artifacts`` case with raw bytes."""
    make = data if callable(data) else (lambda: data)
    return Case(name, "POST", "/v1/artifacts", status, make, **kw)


def nested(depth: int) -> dict[str, Any]:
    """An object nested ``depth`` levels deep."""
    node: dict[str, Any] = {}
    for _ in range(depth):
        node = {"a": node}
    return node


def gzip_bomb() -> bytes:
    """A small gzip body that inflates past the cap."""
    return gzip.compress(b" " * (MAX_BODY + 1024), compresslevel=9)


MAX_VALUES = Settings.from_env({"STRICTURE_SERVER_MAX_BODY_BYTES": str(MAX_BODY)}).max_json_values


def shaped(part: bytes, repeat: int, organization: str = "org") -> bytes:
    """An envelope whose diff holds ``repeat`` copies of ``part``: many values, few bytes each."""
    head = f'{{"organization":"{organization}","project":"p","service":"s","artifact":{{}},'
    return head.encode() + b'"diff":{"x":[' + b",".join([part] * repeat) + b"]}}"


def empty_lists_bomb() -> bytes:
    """A few KB of gzip that inflates, under the byte cap, to a million empty lists."""
    return gzip.compress(shaped(b"[]", MAX_BODY // 3 - 100), compresslevel=9)


HOSTILE_SHAPES: dict[str, tuple[bytes, int]] = {
    "empty lists": (b"[]", MAX_BODY // 3 - 100),
    "small numbers": (b"0", MAX_BODY // 2 - 100),
    "strings holding commas": (b'",["', MAX_BODY // 5 - 100),
    "nesting one past the limit": (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, 1),
}
"""Bodies under the byte cap whose shape is refused before parsing: (part, copies)."""


def hostile(name: str) -> Callable[[], bytes]:
    """The body of one hostile shape."""
    return lambda: shaped(*HOSTILE_SHAPES[name])


READ = "/v1/artifacts/a/b/c"
CHANGES = "/v1/changes/a/b/c"
BAD_ARTIFACT = {"schema_version": "2", "fields": [{"field_id": "X"}]}
WWW_AUTH = {"WWW-Authenticate": 'Bearer realm="stricture-server"'}

BLAST = "/v1/blast-radius/a/b/c"
GRAPH = "/v1/graph/no-lineage-org"
ESCALATION = "/v1/escalation/no-lineage-org"
REGISTRY_PATH = "/v1/registry/no-registry-org"
ORG_CHANGES = "/v1/changes/no-changes-org"
NO_CHANGES: dict[str, Any] = {"organization": "no-changes-org", "changes": [], "next_cursor": None}
ORG_CURSORS = (
    "YzowOjAwMDAwMDAwMDAhMDAwMDAwMDAwMCFyMSFi",  # c:0:0000000000!0000000000!r1!b
    "eDowOmEuYi5ub3QtYS10aW1lbGluZQ",  # x:0:a.b.not-a-timeline
    "eDowOmEuYi4uLy4uL2V0Yw",  # x:0:a.b../../etc
)
YAML = {**AUTH, "Content-Type": "application/yaml"}
YAML_BOMB = b"a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nsystems: [*c, *c]\n"
DUPLICATE = {
    "systems": [
        {"id": "Orders:api", "name": "Orders", "owner_team": "team.orders"},
        {"id": " orders:API", "name": "Orders again", "owner_team": "team.orders"},
    ]
}


def registry(name: str, status: int, data: bytes | Callable[[], bytes], **kw: Any) -> Case:
    """A ``POST /v1/registry/{org}`` case with raw bytes, never stored (the org is unused)."""
    make = data if callable(data) else (lambda: data)
    return Case(name, "POST", "/v1/registry/hostile-registry-org", status, make, **kw)


CASES = [
    Case("health", "GET", "/healthz", 200, expect_json={"status": "ok"}, headers={}),
    Case("health needs no token", "GET", "/healthz", 200, headers={"Authorization": "Bearer x"}),
    Case("unknown path", "GET", "/nope", 404, expect_json={"error": "not found"}),
    Case("unknown run", "GET", "/v1/artifacts/a/b/c/missing", 404),
    Case("percent-encoded path", "GET", "/%68ealth%7A", 200, expect_json={"status": "ok"}),
    Case("percent-encoded unknown run", "GET", "/v1/artifacts/a/b/c/no%20such%2Frun", 404),
    Case(
        "repeated query keys",
        "GET",
        "/healthz?probe=a&probe=b%20c&empty=",
        200,
        expect_json={"status": "ok"},
    ),
    Case(
        "wrong method on health", "DELETE", "/healthz", 405, expect_headers={"Allow": "GET, HEAD"}
    ),
    Case(
        "wrong method on ingest",
        "PUT",
        "/v1/artifacts",
        405,
        expect_headers={"Allow": "GET, HEAD, POST"},
    ),
    # auth
    post(
        "no token",
        401,
        factory.envelope,
        headers={"Content-Type": "application/json"},
        expect_headers=WWW_AUTH,
    ),
    post(
        "wrong token",
        401,
        factory.envelope,
        headers={"Content-Type": "application/json", "Authorization": "Bearer wrong"},
        expect_headers=WWW_AUTH,
    ),
    post(
        "basic scheme",
        401,
        factory.envelope,
        headers={"Content-Type": "application/json", "Authorization": f"Basic {TOKEN}"},
        expect_headers=WWW_AUTH,
    ),
    Case(
        "read without token",
        "GET",
        "/v1/artifacts/a/b/c/d",
        401,
        headers={},
        expect_headers=WWW_AUTH,
    ),
    # the body
    raw("empty body", 400, b""),
    raw("not json", 400, b"{"),
    raw("json array", 400, b"[]", problem_paths=("",)),
    raw("json string", 400, b'"hello"'),
    raw("NaN", 400, b'{"organization": NaN}'),
    raw("Infinity", 400, b'{"organization": Infinity}'),
    raw("number overflows a double", 400, b'{"organization": 1e400}'),
    raw(
        "invalid utf-8",
        400,
        b'{"organization": "\xff\xfe"}',
        expect_json={"error": "the body is not valid UTF-8"},
    ),
    raw(
        "utf-8 encoded surrogate",
        400,
        b'{"organization": "\xed\xa0\x80"}',
        expect_json={"error": "the body is not valid UTF-8"},
    ),
    raw("lone surrogate", 400, b'{"organization": "\\ud800"}'),
    raw("nesting past the parser limit", 400, b"[" * 5000 + b"]" * 5000),
    post(
        "nesting past the storable limit",
        400,
        lambda: factory.envelope(artifact={**factory.artifact(), "metadata": nested(400)}),
    ),
    raw(
        "gzip bomb of empty lists under the byte cap",
        413,
        empty_lists_bomb,
        headers={"Content-Encoding": "gzip", **JSON},
        expect_json={"limit": MAX_VALUES},
    ),
    raw("many empty lists", 413, hostile("empty lists"), expect_json={"limit": MAX_VALUES}),
    raw("many small numbers", 413, hostile("small numbers")),
    raw("many strings holding commas", 413, hostile("strings holding commas")),
    raw(
        "nesting past the limit",
        400,
        hostile("nesting one past the limit"),
        expect_json={"error": "the body is nested too deeply"},
    ),
    # the envelope
    post(
        "missing required fields",
        400,
        lambda: {"artifact": factory.artifact()},
        problem_paths=("",),
    ),
    post("unknown top-level field", 400, lambda: factory.envelope(extra=1), problem_paths=("",)),
    post(
        "organization not a string",
        400,
        lambda: factory.envelope(organization=7),
        problem_paths=("/organization",),
    ),
    post(
        "identity empty after sanitising",
        400,
        lambda: factory.envelope(service=" ../ "),
        problem_paths=("/service",),
    ),
    post(
        "run_id empty after sanitising",
        400,
        lambda: factory.envelope(run_id="///"),
        problem_paths=("/run_id",),
    ),
    post(
        "bad commit sha",
        400,
        lambda: factory.envelope(commit_sha="not-a-sha"),
        problem_paths=("/commit_sha",),
    ),
    post(
        "bad generated_at",
        400,
        lambda: factory.envelope(generated_at="yesterday"),
        problem_paths=("/generated_at",),
    ),
    post(
        "metadata value not a string",
        400,
        lambda: factory.envelope(metadata={"a": 1}),
        problem_paths=("/metadata/a",),
    ),
    post(
        "summary not a string",
        400,
        lambda: factory.envelope(summary={"a": 1}),
        problem_paths=("/summary",),
    ),
    post(
        "artifact not an object",
        400,
        lambda: factory.envelope(artifact=[]),
        problem_paths=("/artifact",),
    ),
    post(
        "artifact off schema",
        400,
        lambda: factory.envelope(artifact=BAD_ARTIFACT),
        problem_paths=("/artifact/schema_version", "/artifact/fields/0"),
    ),
    post(
        "diff off schema",
        400,
        lambda: factory.envelope(diff={"summary": {}, "changes": [{"severity": "huge"}]}),
        problem_paths=("/diff/summary", "/diff/changes/0", "/diff/changes/0/severity"),
    ),
    # encodings and sizes
    post(
        "content type not json",
        415,
        factory.envelope,
        headers={"Content-Type": "text/plain", **AUTH},
    ),
    post(
        "unknown content encoding",
        415,
        factory.envelope,
        headers={"Content-Encoding": "br", **JSON},
    ),
    raw(
        "corrupt gzip",
        400,
        b"\x1f\x8b\x08\x00garbage",
        headers={"Content-Encoding": "gzip", **JSON},
    ),
    raw(
        "truncated gzip",
        400,
        lambda: gzip.compress(body_of(factory.envelope()))[:-12],
        headers={"Content-Encoding": "gzip", **JSON},
    ),
    raw(
        "gzip bomb",
        413,
        gzip_bomb,
        headers={"Content-Encoding": "gzip", **JSON},
        expect_json={"limit": MAX_BODY},
    ),
    raw("body over the cap", 413, b" " * (MAX_BODY + 1), expect_json={"limit": MAX_BODY}),
    # the read API (docs/api.md, "Reading")
    post(
        "run_id latest is reserved",
        400,
        lambda: factory.envelope(run_id=" Latest "),
        problem_paths=("/run_id",),
    ),
    post(
        "generated_at with no UTC equivalent",
        400,
        lambda: factory.envelope(generated_at="0001-01-01T00:00:00+01:00"),
        problem_paths=("/generated_at",),
    ),
    Case("latest of a service with no runs", "GET", f"{READ}/nobody/latest", 404),
    Case("runs without token", "GET", READ, 401, headers={}, expect_headers=WWW_AUTH),
    Case("changes without token", "GET", CHANGES, 401, headers={}, expect_headers=WWW_AUTH),
    Case("no runs yet", "GET", READ, 200, expect_json={"runs": [], "next_cursor": None}),
    Case("no projects yet", "GET", "/v1/artifacts/no-such-org", 200, expect_json={"projects": []}),
    Case("no services yet", "GET", "/v1/artifacts/a/b", 200, expect_json={"services": []}),
    Case("no changes yet", "GET", CHANGES, 200, expect_json={"changes": []}),
    Case("organization empty", "GET", "/v1/artifacts/%20-", 400, problem_paths=("/organization",)),
    Case("bad from", "GET", f"{READ}?from=2026-02-30", 400, problem_paths=("?from",)),
    Case("to not a date", "GET", f"{READ}?to=yesterday", 400, problem_paths=("?to",)),
    Case(
        "from after to",
        "GET",
        f"{READ}?from=2026-03-02&to=2026-03-01",
        400,
        problem_paths=("?from",),
    ),
    Case("limit zero", "GET", f"{READ}?limit=0", 400, problem_paths=("?limit",)),
    Case("limit over 1000", "GET", f"{READ}?limit=1001", 400, problem_paths=("?limit",)),
    Case("limit not a number", "GET", f"{READ}?limit=-5", 400, problem_paths=("?limit",)),
    Case("unknown parameter", "GET", f"{READ}?form=2026-01-01", 400, problem_paths=("?form",)),
    Case("commit too short", "GET", f"{READ}?commit_sha=abc", 400, problem_paths=("?commit_sha",)),
    Case(
        "commit not hex", "GET", f"{READ}?commit_sha=xyz1234", 400, problem_paths=("?commit_sha",)
    ),
    Case("tampered cursor", "GET", f"{READ}?cursor=Li4vLi4v", 400, problem_paths=("?cursor",)),
    Case(
        "cursor not base64", "GET", f"{CHANGES}?cursor=%2F%2E%2E", 400, problem_paths=("?cursor",)
    ),
    Case(
        "unknown severity", "GET", f"{CHANGES}?severity=urgent", 400, problem_paths=("?severity",)
    ),
    Case(
        "bad change type", "GET", f"{CHANGES}?change_type=A-B", 400, problem_paths=("?change_type",)
    ),
    Case("commit filter on changes", "GET", f"{CHANGES}?commit_sha=abcdef1", 400),
    Case("wrong method on runs", "DELETE", READ, 405, expect_headers={"Allow": "GET, HEAD"}),
    # the ends of the calendar: 0001-01-01 and 9999-12-31 are days like any other
    Case("runs to the last day", "GET", f"{READ}?to=9999-12-31", 200, expect_json={"runs": []}),
    Case("changes to the last day", "GET", f"{CHANGES}?to=9999-12-31", 200),
    Case(
        "runs of the whole calendar",
        "GET",
        f"{READ}?from=0001-01-01&to=9999-12-31&commit_sha=abcdef1",
        200,
        expect_json={"runs": []},
    ),
    Case(
        "changes of the first day",
        "GET",
        f"{CHANGES}?from=0001-01-01&to=0001-01-01",
        200,
        expect_json={"changes": []},
    ),
    Case("year 10000", "GET", f"{READ}?to=10000-01-01", 400, problem_paths=("?to",)),
    Case("year zero", "GET", f"{CHANGES}?from=0000-12-31", 400, problem_paths=("?from",)),
    post(
        "generated_at past year 9999 in UTC",
        400,
        lambda: factory.envelope(generated_at="9999-12-31T23:59:59-00:01"),
        problem_paths=("/generated_at",),
    ),
    post(
        "generated_at before year 1 in UTC at the largest offset",
        400,
        lambda: factory.envelope(generated_at="0001-01-01T23:58:59+23:59"),
        problem_paths=("/generated_at",),
    ),
    post(
        "generated_at offset of a day",
        400,
        lambda: factory.envelope(generated_at="2026-03-01T00:00:00+24:00"),
        problem_paths=("/generated_at",),
    ),
    # every read refuses an unknown parameter, and checks values against the diff schema
    Case("parameter on latest", "GET", f"{READ}/latest?foo=1", 400, problem_paths=("?foo",)),
    Case("parameter on a run", "GET", f"{READ}/r-1?foo=1", 400, problem_paths=("?foo",)),
    Case("limit on a run", "GET", f"{READ}/r-1?limit=1", 400, problem_paths=("?limit",)),
    Case("parameter on projects", "GET", "/v1/artifacts/a?foo=1", 400, problem_paths=("?foo",)),
    Case("date on services", "GET", "/v1/artifacts/a/b?from=2026-01-01", 400),
    Case("severity on runs", "GET", f"{READ}?severity=high", 400, problem_paths=("?severity",)),
    Case("empty severity", "GET", f"{CHANGES}?severity=", 400, problem_paths=("?severity",)),
    Case(
        "one bad change type of two",
        "GET",
        f"{CHANGES}?change_type=field_removed,Field-Added",
        400,
        problem_paths=("?change_type",),
    ),
    Case(
        "well-formed change type no diff has",
        "GET",
        f"{CHANGES}?change_type=bogus",
        200,
        expect_json={"changes": [], "next_cursor": None},
    ),
    # names: a letter or digit outside ASCII is refused, never dropped into another's key
    post(
        "organization with a Greek letter",
        400,
        lambda: factory.envelope(organization="Σacme"),
        problem_paths=("/organization",),
    ),
    post(
        "project in Japanese",
        400,
        lambda: factory.envelope(project="日本acme"),
        problem_paths=("/project",),
    ),
    post(
        "service with a Kelvin sign",
        400,
        lambda: factory.envelope(service="\u212aey"),
        problem_paths=("/service",),
    ),
    post(
        "run_id with a combining accent",
        400,
        lambda: factory.envelope(run_id="cafe\u0301"),
        problem_paths=("/run_id",),
    ),
    post(
        "every refused name at once",
        400,
        lambda: factory.envelope(organization="café", project="ｐ", service="²"),  # noqa: RUF001
        problem_paths=("/organization", "/project", "/service"),
    ),
    Case("path name with an accent", "GET", f"{READ}/caf%C3%A9", 400, problem_paths=("/run_id",)),
    Case("path organization in Greek", "GET", "/v1/artifacts/%CE%A3acme", 400),
    Case(
        "changes of a service in Japanese",
        "GET",
        "/v1/changes/a/b/%E6%97%A5%E6%9C%AC",
        400,
        problem_paths=("/service",),
    ),
    Case("organizations", "GET", "/v1/artifacts?limit=1", 200),
    Case("organizations without token", "GET", "/v1/artifacts", 401, headers={}),
    Case(
        "organizations, bad limit", "GET", "/v1/artifacts?limit=x", 400, problem_paths=("?limit",)
    ),
    Case("organizations, filter", "GET", "/v1/artifacts?from=2026-01-01", 400),
    Case(
        "organizations, a project cursor",
        "GET",
        "/v1/artifacts?cursor=cDowOmE",
        400,
        problem_paths=("?cursor",),
    ),
    Case(
        "organizations, a cursor naming a key",
        "GET",
        "/v1/artifacts?cursor=bzowOi4uLy4uL2V0Yw",
        400,
        problem_paths=("?cursor",),
    ),
    # readiness and metrics
    Case("ready", "GET", "/readyz", 200, expect_json={"status": "ready"}, headers={}),
    Case("wrong method on ready", "POST", "/readyz", 405, expect_headers={"Allow": "GET, HEAD"}),
    Case("metrics off by default", "GET", "/metrics", 404, headers={}),
    # the lineage endpoints (docs/api.md, "Lineage")
    Case("blast radius of an unknown run", "GET", f"{BLAST}/missing", 404),
    Case("unknown impact", "GET", f"{CHANGES}?impact=severe", 400, problem_paths=("?impact",)),
    Case("impact filter", "GET", f"{CHANGES}?impact=downstream,unknown", 200),
    Case("blast radius without token", "GET", f"{BLAST}/r", 401, headers={}),
    Case(
        "parameter on a blast radius", "GET", f"{BLAST}/r?depth=2", 400, problem_paths=("?depth",)
    ),
    Case("blast radius of a name in Greek", "GET", f"{BLAST}/%CE%A3", 400),
    Case(
        "graph of an org with no runs", "GET", GRAPH, 200, expect_json={"systems": [], "edges": []}
    ),
    Case("graph without token", "GET", GRAPH, 401, headers={}, expect_headers=WWW_AUTH),
    Case("graph of an unknown system", "GET", f"{GRAPH}?system=nobody:api", 404),
    Case("graph of an empty system", "GET", f"{GRAPH}?system=%20", 400, problem_paths=("?system",)),
    Case("graph depth zero", "GET", f"{GRAPH}?system=a&depth=0", 400, problem_paths=("?depth",)),
    Case("graph depth over 64", "GET", f"{GRAPH}?depth=65", 400, problem_paths=("?depth",)),
    Case("graph depth not a number", "GET", f"{GRAPH}?depth=-1", 400, problem_paths=("?depth",)),
    Case("graph format svg", "GET", f"{GRAPH}?format=svg", 400, problem_paths=("?format",)),
    Case("graph unknown parameter", "GET", f"{GRAPH}?limit=1", 400, problem_paths=("?limit",)),
    Case("graph of an org in Greek", "GET", "/v1/graph/%CE%A3", 400),
    Case("escalation of an unknown system", "GET", f"{ESCALATION}/nobody", 404),
    Case("escalation depth", "GET", f"{ESCALATION}/x?depth=a", 400, problem_paths=("?depth",)),
    Case("escalation format", "GET", f"{ESCALATION}/x?format=dot", 400),
    Case("wrong method on graph", "POST", GRAPH, 405, expect_headers={"Allow": "GET, HEAD"}),
    Case("registry of an org with none", "GET", REGISTRY_PATH, 404),
    Case("registry without token", "POST", REGISTRY_PATH, 401, headers={}),
    registry("registry empty body", 400, b""),
    registry("registry not json", 400, b"{"),
    registry(
        "registry off schema", 400, b'{"systems": [{"id": 1}]}', problem_paths=("/systems/0",)
    ),
    registry("registry duplicate ids", 400, body_of(DUPLICATE), problem_paths=("/systems/1/id",)),
    registry("registry as text", 415, b"{}", headers={**AUTH, "Content-Type": "text/plain"}),
    registry("registry yaml not yaml", 400, b"a: [", headers=YAML),
    registry("registry yaml aliases", 400, YAML_BOMB, headers=YAML),
    registry("registry yaml int keys", 400, b"systems: []\n1: 2\n", headers=YAML),
    registry("registry yaml two documents", 400, b"a: 1\n---\nb: 2\n", headers=YAML),
    registry("registry yaml nested deep", 400, b"[" * 5000 + b"]" * 5000, headers=YAML),
    registry("registry gzip bomb", 413, gzip_bomb, headers={"Content-Encoding": "gzip", **JSON}),
    # the org-wide change feed (docs/api.md, "Change feed of an organization")
    Case("org changes of an org with no runs", "GET", ORG_CHANGES, 200, expect_json=NO_CHANGES),
    Case("org changes without token", "GET", ORG_CHANGES, 401, headers={}, expect_headers=WWW_AUTH),
    Case("org changes in Greek", "GET", "/v1/changes/%CE%A3", 400),
    Case("org changes unknown impact", "GET", f"{ORG_CHANGES}?impact=x", 400),
    Case("org changes by commit", "GET", f"{ORG_CHANGES}?commit_sha=abcdef1", 400),
    Case("org changes limit zero", "GET", f"{ORG_CHANGES}?limit=0", 400),
    Case("org changes bad day", "GET", f"{ORG_CHANGES}?from=2026-02-30", 400),
    # A service feed's cursor, a cursor naming no run, one naming a path: each refused.
    *(
        Case(f"org changes cursor {n}", "GET", f"{ORG_CHANGES}?cursor={c}", 400)
        for n, c in enumerate(ORG_CURSORS)
    ),
    Case("wrong method on org changes", "POST", ORG_CHANGES, 405),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(deployment: Deployment, case: Case) -> None:
    body = case.body()
    limit = deployment.delivery.max_body_bytes
    if limit is not None and len(body) > limit:
        # A declared capability: this platform answers such a request itself, before the app.
        with pytest.raises(PlatformRefused):
            deployment.delivery.send(case.method, case.path, case.headers, body)
        return
    reply = deployment.delivery.send(case.method, case.path, case.headers, body)
    assert reply.status == case.status, reply.body[:500]
    assert reply.headers.get("Content-Type") == "application/json"
    assert reply.headers.get("X-Content-Type-Options") == "nosniff"
    document = reply.json()
    for key, value in case.expect_json.items():
        assert document[key] == value
    for name, value in case.expect_headers.items():
        assert reply.headers.get(name) == value
    if case.status >= 400:
        assert isinstance(document["error"], str)
        assert document["error"]
    named = {p["path"] for p in document.get("problems", [])}
    assert set(case.problem_paths) <= named, document


def ingest(deployment: Deployment, document: Any, headers: dict[str, str] = JSON) -> Reply:
    """POST an envelope."""
    return deployment.delivery.send("POST", "/v1/artifacts", headers, body_of(document))


def stored(deployment: Deployment, key: str) -> dict[str, Any]:
    """The record under ``key`` in the deployment's store."""
    record: dict[str, Any] = orjson.loads(deployment.storage.read(key))
    return record


def test_accepted_ingest_is_stored_under_the_canonical_key(deployment: Deployment) -> None:
    org = factory.unique("ACME, Inc")
    document = factory.envelope(
        organization=f"  {org.upper()} ",
        project="Check Out",
        service="API",
        run_id="Build #42",
        commit_sha="ABCDEF0123456",
        generated_at="2026-03-01T23:30:00-02:00",
        diff=factory.diff(4),
        summary="## Drift\n2 high",
        metadata={"ci": "github", "branch": "main"},
    )
    reply = ingest(deployment, document)
    assert reply.status == 202
    identity = f"{org.replace(', ', '-').lower()}/check-out/api"
    location = f"/v1/artifacts/{identity}/build-42"
    assert reply.json() == {"accepted": True, "run_id": "build-42", "location": location}
    # 23:30 at -02:00 is the next day in UTC.
    key = (
        f"{deployment.prefix}/v1/org={org.replace(', ', '-').lower()}/project=check-out/"
        "service=api/date=2026-03-02/run=build-42/payload.json"
    )
    record = stored(deployment, key)
    assert record["commit_sha"] == "abcdef0123456"
    assert record["artifact"] == document["artifact"]
    assert record["diff"] == document["diff"]
    assert record["metadata"] == document["metadata"]
    assert record["digest"].startswith("sha256:")
    read = deployment.delivery.send("GET", location, AUTH)
    assert read.status == 200
    assert read.json() == record


def test_generated_run_id_sorts_by_time_and_uses_the_received_day(
    deployment: Deployment,
) -> None:
    document = factory.envelope()
    first = ingest(deployment, document).json()["run_id"]
    second = ingest(deployment, document).json()["run_id"]
    assert first != second
    assert first < second
    today = datetime.now(UTC).date().isoformat()
    key = (
        f"{deployment.prefix}/v1/org={document['organization']}/project=checkout/service=api/"
        f"date={today}/run={second}/payload.json"
    )
    assert stored(deployment, key)["run_id"] == second


def test_identical_replay_is_answered_like_the_first_time(deployment: Deployment) -> None:
    document = factory.envelope(run_id="r-1")
    first = ingest(deployment, document)
    again = ingest(deployment, document)
    assert (first.status, again.status) == (202, 202)
    assert first.json() == again.json()


def test_conflicting_replay_is_409_and_changes_nothing(deployment: Deployment) -> None:
    document = factory.envelope(run_id="r-1", generated_at="2026-01-01T00:00:00Z")
    first = ingest(deployment, document)
    location = first.json()["location"]
    before = deployment.delivery.send("GET", location, AUTH).body
    # Another day, other content: still the same run of the same service.
    changed = {**document, "generated_at": "2026-02-01T00:00:00Z", "summary": "other"}
    conflict = ingest(deployment, changed)
    assert conflict.status == 409
    assert conflict.json()["location"] == location
    assert conflict.headers.get("Location") == location
    assert deployment.delivery.send("GET", location, AUTH).body == before


def test_gzip_upload_of_a_large_artifact(deployment: Deployment) -> None:
    document = factory.envelope(artifact=factory.artifact(fields=3000), run_id="big")
    plain = body_of(document)
    assert len(plain) > 2 * 1024 * 1024
    packed = gzip.compress(plain)
    limit = deployment.delivery.max_body_bytes
    assert limit is None or len(packed) <= limit
    reply = deployment.delivery.send(
        "POST", "/v1/artifacts", {"Content-Encoding": "gzip", **JSON}, packed
    )
    assert reply.status == 202, reply.body[:300]
    # Read from the store: the record is larger than some platforms' response limit.
    keys = list(deployment.storage.list(f"{deployment.prefix}/v1/org={document['organization']}/"))
    (key,) = [k for k in keys if k.endswith("/run=big/payload.json")]
    assert stored(deployment, key)["artifact"] == document["artifact"]


def test_path_identities_are_sanitised_like_the_envelope(deployment: Deployment) -> None:
    document = factory.envelope(run_id="RUN 7")
    location = ingest(deployment, document).json()["location"]
    org = document["organization"].upper()
    read = deployment.delivery.send("GET", f"/v1/artifacts/{org}/CHECKOUT/Api/run%207", AUTH)
    assert read.status == 200
    assert read.json()["run_id"] == "run-7"
    assert location.endswith("/run-7")


def test_request_id_is_echoed_or_generated(deployment: Deployment) -> None:
    echoed = deployment.delivery.send("GET", "/healthz", {"X-Request-Id": "ci-123"})
    assert echoed.headers.get("X-Request-Id") == "ci-123"
    generated = deployment.delivery.send("GET", "/healthz", {"X-Request-Id": "bad id with spaces"})
    assert generated.headers.get("X-Request-Id") not in (None, "bad id with spaces")


def test_real_corpus_is_accepted(deployment: Deployment) -> None:
    artifact_path = factory.shared_fixture("lineage-artifact-baseline.json")
    diff_path = factory.shared_fixture("lineage-diff-baseline-to-current.json")
    document = factory.envelope(
        artifact=orjson.loads(artifact_path.read_bytes()),
        diff=orjson.loads(diff_path.read_bytes()),
    )
    reply = ingest(deployment, document)
    assert reply.status == 202, reply.body[:500]


def test_the_read_api_answers_alike_on_every_runtime(deployment: Deployment) -> None:
    org = factory.unique("org")
    sha = "abcdef0123456789"
    for n, (when, commit) in enumerate(
        [
            ("2026-04-01T10:00:00Z", sha),
            ("2026-04-02T10:00:00Z", None),
            ("2026-04-02T09:00:00Z", sha),
        ]
    ):
        document = factory.envelope(
            organization=org,
            run_id=f"r{n}",
            generated_at=when,
            diff=factory.diff(2),
            commit_sha=commit,
        )
        assert ingest(deployment, document).status == 202

    def get(path: str) -> Any:
        reply = deployment.delivery.send("GET", path, AUTH)
        assert reply.status == 200, reply.body[:300]
        return reply.json()

    service = f"/v1/artifacts/{org}/checkout/api"
    latest = deployment.delivery.send("GET", f"{service}/latest", AUTH)
    assert latest.json()["run_id"] == "r1"
    assert latest.headers.get("Content-Location") == f"{service}/r1"
    page = get(f"{service}?limit=2")
    assert [r["run_id"] for r in page["runs"]] == ["r1", "r2"]
    rest = get(f"{service}?limit=2&cursor={page['next_cursor']}")
    assert ([r["run_id"] for r in rest["runs"]], rest["next_cursor"]) == (["r0"], None)
    day = get(f"{service}?from=2026-04-01&to=2026-04-01")
    assert [r["run_id"] for r in day["runs"]] == ["r0"]
    by_commit = get(f"{service}?commit_sha={sha[:7].upper()}")
    assert [r["run_id"] for r in by_commit["runs"]] == ["r2", "r0"]
    assert by_commit["runs"][0]["severity_counts"]["high"] == 1
    changes = get(f"/v1/changes/{org}/checkout/api?severity=high")["changes"]
    assert [(c["run_id"], c["index"]) for c in changes] == [("r1", 0), ("r2", 0), ("r0", 0)]
    assert changes[0]["change"]["change_type"] == "field_removed"
    assert get(f"/v1/artifacts/{org}/checkout")["services"][0]["latest"]["run_id"] == "r1"
    assert get(f"/v1/artifacts/{org.upper()}")["projects"][0]["project"] == "checkout"
    cursor, organizations = "", []
    while cursor is not None:
        page = get(f"/v1/artifacts?limit=1000{cursor and f'&cursor={cursor}'}")
        organizations += [o["organization"] for o in page["organizations"]]
        cursor = page["next_cursor"]
    assert org in organizations
    assert organizations == sorted(set(organizations))


def test_runs_at_the_ends_of_the_calendar_are_stored_and_read(deployment: Deployment) -> None:
    org = factory.unique("calendar")
    times = {"first": "0001-01-01T00:00:00Z", "last": "9999-12-31T23:59:59.999+00:00"}
    for run_id, when in times.items():
        document = factory.envelope(
            organization=org, run_id=run_id, generated_at=when, diff=factory.diff(2)
        )
        assert ingest(deployment, document).status == 202
    service = f"/v1/artifacts/{org}/checkout/api"

    def run_ids(path: str, items: str = "runs") -> list[str]:
        reply = deployment.delivery.send("GET", path, AUTH)
        assert reply.status == 200, reply.body[:300]
        return [item["run_id"] for item in reply.json()[items]]

    assert run_ids(f"{service}?from=0001-01-01&to=9999-12-31") == ["last", "first"]
    assert run_ids(f"{service}?to=0001-01-01") == ["first"]
    assert run_ids(f"{service}?from=9999-12-31") == ["last"]
    changes = f"/v1/changes/{org}/checkout/api?to=9999-12-31&severity=high"
    assert run_ids(changes, "changes") == ["last", "first"]
    latest = deployment.delivery.send("GET", f"{service}/latest", AUTH)
    assert latest.json()["generated_at"] == times["last"]


EVENT_DELIVERIES = sorted(n for n in FUNCTION_DELIVERIES if n.startswith("lambda") or n == "azure")
"""The runtimes whose requests are event data, so any header value reaches the app (an HTTP
server refuses a newline or a control character itself; test_function_mode covers gcf)."""


@pytest.mark.parametrize("deployment", EVENT_DELIVERIES, indirect=True)
@pytest.mark.parametrize("request_id", factory.HOSTILE_REQUEST_IDS)
def test_a_hostile_request_id_is_replaced_on_every_function_runtime(
    deployment: Deployment, request_id: str
) -> None:
    headers = {**AUTH, "X-Request-Id": request_id}
    for path, status in (("/healthz", 200), (f"{READ}/missing", 404), (f"{READ}?to=x", 400)):
        reply = deployment.delivery.send("GET", path, headers)
        assert reply.status == status, reply.body[:300]
        assert reply.headers.get("Content-Type") == "application/json"
        given = reply.headers.get("X-Request-Id")
        assert given
        assert given != request_id
        assert "X-Injected" not in reply.headers


def test_record_reads_are_cacheable_and_conditional(deployment: Deployment) -> None:
    org = factory.unique("cache")
    service = f"/v1/artifacts/{org}/checkout/api"
    document = factory.envelope(organization=org, run_id="r1", generated_at="2026-04-01T00:00:00Z")
    assert ingest(deployment, document).status == 202
    by_id = deployment.delivery.send("GET", f"{service}/r1", AUTH)
    digest = by_id.json()["digest"]
    # The digest, strong and quoted; immutable, and private because the deployment has auth.
    assert by_id.headers.get("ETag") == f'"{digest}"'
    assert set(by_id.headers["Cache-Control"].split(", ")) == {
        "private",
        "max-age=31536000",
        "immutable",
    }
    assert by_id.headers.get("X-Content-Type-Options") == "nosniff"
    same = deployment.delivery.send(
        "GET", f"{service}/r1", {"If-None-Match": f'"{digest}"', **AUTH}
    )
    assert (same.status, same.body, same.headers.get("ETag")) == (304, b"", f'"{digest}"')
    other = deployment.delivery.send("GET", f"{service}/r1", {"If-None-Match": '"x"', **AUTH})
    assert (other.status, other.json()) == (200, by_id.json())
    latest = deployment.delivery.send("GET", f"{service}/latest", AUTH)
    assert latest.headers.get("ETag") == f'"{digest}"'
    assert set(latest.headers["Cache-Control"].split(", ")) == {"private", "no-cache"}
    unchanged = deployment.delivery.send(
        "GET", f"{service}/latest", {"If-None-Match": f'"{digest}"', **AUTH}
    )
    assert unchanged.status == 304
    assert unchanged.headers.get("Content-Location") == f"{service}/r1"
    newer = {**document, "run_id": "r2", "generated_at": "2026-04-02T00:00:00Z"}
    assert ingest(deployment, newer).status == 202
    moved = deployment.delivery.send(
        "GET", f"{service}/latest", {"If-None-Match": f'"{digest}"', **AUTH}
    )
    assert (moved.status, moved.json()["run_id"]) == (200, "r2")
    assert moved.headers.get("ETag") == f'"{moved.json()["digest"]}"'


def test_a_record_failing_its_digest_is_a_500_naming_the_run(deployment: Deployment) -> None:
    document = factory.envelope(organization=factory.unique("torn"), run_id="r1")
    planted = plant(deployment.storage, deployment.prefix, document, truncated, indexed=True)
    location = planted.identity.location
    for path in (location, location.replace("/r1", "/latest")):
        reply = deployment.delivery.send("GET", path, AUTH)
        assert reply.status == 500, reply.body[:300]
        assert reply.json() == {
            "error": f"run {location} fails its integrity check",
            "location": location,
        }
        assert reply.headers.get("X-Content-Type-Options") == "nosniff"
    # The listing, which reads only the index, still answers; nothing stored changed.
    listing = deployment.delivery.send("GET", location.removesuffix("/r1"), AUTH)
    assert [run["run_id"] for run in listing.json()["runs"]] == ["r1"]
    assert deployment.storage.read(planted.record_key) == truncated(planted.record)


def test_a_claim_without_its_record_says_how_to_repair_it(deployment: Deployment) -> None:
    document = factory.envelope(organization=factory.unique("half"), run_id="r1")
    planted = plant(deployment.storage, deployment.prefix, document, lambda data: None)
    location = planted.identity.location
    missing = deployment.delivery.send("GET", location, AUTH)
    assert missing.status == 404
    assert missing.json()["error"] == "the run id is claimed but its record is missing"
    assert "send the same body again" in missing.json()["repair"]
    other = ingest(deployment, {**document, "summary": "other content"})
    assert other.status == 409
    assert other.headers.get("Location") == location
    assert "its record is missing: send the first body again" in other.json()["error"]
    # The first body completes the run, with the claim's time.
    assert ingest(deployment, document).status == 202
    read = deployment.delivery.send("GET", location, AUTH)
    assert read.status == 200
    assert read.body == planted.record


def test_a_corrupt_claim_is_a_clear_error_not_a_500_on_every_retry(
    deployment: Deployment,
) -> None:
    document = factory.envelope(organization=factory.unique("claim"), run_id="r1")
    planted = plant(deployment.storage, deployment.prefix, document, claim=truncated)
    location = planted.identity.location
    read = deployment.delivery.send("GET", location, AUTH)
    assert read.status == 500
    assert read.json()["error"] == f"run {location} fails its integrity check"
    for attempt in (document, {**document, "summary": "other"}):
        again = ingest(deployment, attempt)
        assert again.status == 409, again.body[:300]
        assert "the claim of this run id fails its integrity check" in again.json()["error"]
        assert again.headers.get("Location") == location
    assert deployment.storage.read(planted.claim_key) == truncated(planted.claim)


def test_corrupt_index_objects_are_skipped_by_listings_and_the_change_feed(
    deployment: Deployment,
) -> None:
    org = factory.unique("skip")
    for n, day in enumerate(("2026-04-01", "2026-04-03")):
        document = factory.envelope(
            organization=org, run_id=f"r{n}", generated_at=f"{day}T00:00:00Z", diff=factory.diff(2)
        )
        assert ingest(deployment, document).status == 202
    service = ServiceRef(org, "checkout", "api")
    for run_id, body in (("bad-json", b'{"summary": {"run_'), ("bad-shape", b'{"summary": 7}')):
        when = datetime(2026, 4, 2, tzinfo=UTC)
        plant_index_entry(deployment.storage, deployment.prefix, service, run_id, body, when)

    def get(path: str) -> Any:
        reply = deployment.delivery.send("GET", path, AUTH)
        assert reply.status == 200, reply.body[:300]
        return reply.json()

    assert [run["run_id"] for run in get(service.location)["runs"]] == ["r1", "r0"]
    assert [
        run["run_id"] for run in get(f"{service.location}?limit=1&from=2026-04-02")["runs"]
    ] == ["r1"]
    changes = get(f"/v1/changes/{org}/checkout/api")["changes"]
    assert [(c["run_id"], c["index"]) for c in changes] == [
        ("r1", 0),
        ("r1", 1),
        ("r0", 0),
        ("r0", 1),
    ]
    assert get(f"/v1/artifacts/{org}/checkout")["services"][0]["latest"]["run_id"] == "r1"


def test_head_answers_like_get_without_a_body(deployment: Deployment) -> None:
    reply = deployment.delivery.send("HEAD", "/healthz", {})
    assert reply.status == 200
    assert reply.headers.get("Content-Type") == "application/json"
    assert reply.body == b""


@pytest.mark.parametrize("name", sorted(HOSTILE_SHAPES))
def test_a_body_refused_for_its_shape_stores_nothing(deployment: Deployment, name: str) -> None:
    organization = factory.unique("shaped")
    body = shaped(*HOSTILE_SHAPES[name], organization=organization)
    # Sent compressed, so platforms with a small request limit let it through to the app.
    headers = {"Content-Encoding": "gzip", **JSON}
    reply = deployment.delivery.send("POST", "/v1/artifacts", headers, gzip.compress(body))
    assert reply.status in (400, 413), reply.body[:300]
    assert reply.json()["error"]
    keys = deployment.storage.list(f"{deployment.prefix}/")
    assert not [key for key in keys if organization in key]


def test_error_bodies_quote_values_cut_short_and_count_what_they_leave_out(
    deployment: Deployment,
) -> None:
    metadata = {f"key-{n:04d}": "v" * 1000 for n in range(200)}
    fields = [{**factory.field(n), "owner": "NOT AN OWNER"} for n in range(80)]
    document = factory.envelope(
        organization="x" * 3_000_000,
        metadata=metadata,
        artifact={"schema_version": "1", "fields": fields},
    )
    reply = deployment.delivery.send(
        "POST",
        "/v1/artifacts",
        {"Content-Encoding": "gzip", **JSON},
        gzip.compress(body_of(document)),
    )
    assert reply.status == 400
    assert len(reply.body) < 50_000
    answer = reply.json()
    problems = answer["problems"]
    assert len(problems) == 50  # STRICTURE_SERVER_MAX_ERRORS' default
    assert answer["problems_omitted"] == 2 + 80 - 50
    assert "problems_omitted_is_lower_bound" not in answer
    by_path = {p["path"]: p["message"] for p in problems}
    assert by_path["/organization"].endswith("is too long")
    assert "..." in by_path["/organization"]
    assert by_path["/metadata"].count("key-") <= 5
    assert all(len(p["message"]) <= MESSAGE_LIMIT for p in problems)


def test_counting_problems_stops_at_its_limit(deployment: Deployment) -> None:
    # 18 required properties missing from each of 200 empty fields: 3600 problems.
    document = factory.envelope(artifact={"schema_version": "1", "fields": [{}] * 200})
    reply = ingest(deployment, document)
    assert reply.status == 400
    answer = reply.json()
    assert len(answer["problems"]) == 50
    assert answer["problems_omitted"] == COUNT_LIMIT - 50
    assert answer["problems_omitted_is_lower_bound"] is True
