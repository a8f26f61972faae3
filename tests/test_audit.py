"""The audit trail through every delivery: each audited action leaves exactly one event."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from stricture_server import Settings
from stricture_server.app import App
from stricture_server.auth import NoAuth
from stricture_server.errors import StorageUnavailable
from stricture_server.ingest.validation import EnvelopeValidator
from stricture_server.runstore.records import identity_from_path
from stricture_server.runstore.runs import RunStore
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage

from . import factory
from .conftest import TOKEN
from .deliveries import Deployment
from .test_conformance import AUTH, JSON, body_of
from .test_lineage_impact import REGISTRY


def send(
    deployment: Deployment, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, str]:
    """Send with a request id of our own; the status and that id."""
    request_id = f"audit-{uuid.uuid4().hex}"
    reply = deployment.delivery.send(method, path, {**headers, "X-Request-Id": request_id}, body)
    return reply.status, request_id


def events(deployment: Deployment, path: str) -> list[dict[str, Any]]:
    """Every event of a log, newest first, following the cursor."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        reply = deployment.delivery.send("GET", f"{path}?limit=2{cursor}", AUTH)
        assert reply.status == 200, reply.body[:300]
        page = reply.json()
        found += page["events"]
        if page["next_cursor"] is None:
            return found
        cursor = f"&cursor={page['next_cursor']}"


def test_every_audited_action_leaves_exactly_one_event(deployment: Deployment) -> None:
    document = factory.envelope(run_id="audited-run")
    org = document["organization"]
    conflicting = {**document, "summary": "another body"}
    ingest = body_of(document)
    sent = [
        send(deployment, "POST", "/v1/artifacts", JSON, ingest),
        send(deployment, "POST", "/v1/artifacts", JSON, ingest),
        send(deployment, "POST", "/v1/artifacts", JSON, body_of(conflicting)),
        send(deployment, "POST", f"/v1/registry/{org}", JSON, body_of(REGISTRY)),
    ]
    assert [status for status, _ in sent] == [202, 202, 409, 201]
    # Not audited: a read, and a body refused for its shape (nothing changes).
    assert send(deployment, "GET", f"/v1/artifacts/{org}", AUTH)[0] == 200
    assert send(deployment, "POST", "/v1/artifacts", JSON, b"{}")[0] == 400
    denied = send(deployment, "POST", "/v1/artifacts", {"Content-Type": "application/json"}, ingest)
    denied_read = send(deployment, "GET", f"/v1/artifacts/{org}", {"Authorization": "Bearer no"})
    assert denied[0] == denied_read[0] == 401

    logged = events(deployment, f"/v1/audit/{org}")
    assert [e["request_id"] for e in logged] == [rid for _, rid in reversed(sent)]
    assert [(e["action"], e["result"], e["status"]) for e in reversed(logged)] == [
        ("ingest", "accepted", 202),
        ("ingest", "replayed", 202),
        ("ingest", "conflict", 409),
        ("registry.upload", "stored", 201),
    ]
    accepted, replayed, conflict, upload = reversed(logged)
    target = {"organization": org, "project": "checkout", "service": "api"}
    assert accepted["target"] == {**target, "run_id": "audited-run"}
    assert accepted["digest"].startswith("sha256:")
    assert replayed["digest"] == accepted["digest"]
    record = deployment.storage.read(accepted["record"])
    assert record.startswith(b'{"digest":"' + accepted["digest"].encode())
    assert "digest" not in conflict
    assert upload["target"] == {"organization": org}
    assert {tuple(e["identity"].items()) for e in logged} == {
        (("kind", "shared"), ("id", "shared"))
    }
    for event in logged:
        assert TOKEN not in str(event)
        assert event["time"].endswith("Z")

    server = {e["request_id"]: e for e in events(deployment, "/v1/audit")}
    for _, request_id in (denied, denied_read):
        event = server[request_id]
        # Unauthenticated: the path's names are not trusted to pick an organization's log.
        assert event["target"] == {}
        assert (event["result"], event["status"]) == ("unauthenticated", 401)
        assert event["identity"] == {"kind": "anonymous"}
    assert event["action"] == "read"
    assert server[denied[1]]["action"] == "ingest"


def test_the_audit_log_filters_by_action_result_identity_and_time(
    deployment: Deployment,
) -> None:
    document = factory.envelope(run_id="twice")
    org = document["organization"]
    for _ in range(2):
        send(deployment, "POST", "/v1/artifacts", JSON, body_of(document))
    base = f"/v1/audit/{org}"

    def results(query: str) -> list[str]:
        reply = deployment.delivery.send("GET", f"{base}?{query}", AUTH)
        assert reply.status == 200, reply.body[:300]
        return [e["result"] for e in reply.json()["events"]]

    assert results("result=accepted") == ["accepted"]
    assert results("result=accepted,replayed") == ["replayed", "accepted"]
    assert results("action=registry.upload") == []
    assert results("identity=shared&action=ingest") == ["replayed", "accepted"]
    assert results("identity=anonymous") == []
    assert results("from=2000-01-01&to=2000-01-02") == []
    assert results("limit=1") == ["replayed"]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "cursor=nope", "from=yesterday", "result=", "actor=me", "to=2026-13-01"],
)
def test_bad_audit_queries_are_400(deployment: Deployment, query: str) -> None:
    reply = deployment.delivery.send("GET", f"/v1/audit/some-org?{query}", AUTH)
    assert reply.status == 400, reply.body[:300]
    assert reply.json()["problems"]


def test_the_audit_endpoints_need_credentials(deployment: Deployment) -> None:
    paths = ("/v1/audit", "/v1/audit/some-org", "/v1/audit/some-org/verify", "/v1/audit/---")
    for path in paths:
        assert deployment.delivery.send("GET", path, {}).status == 401
    # With credentials, a name that sanitises to nothing is the caller's mistake.
    assert deployment.delivery.send("GET", "/v1/audit/---/verify", AUTH).status == 400


VALIDATOR = EnvelopeValidator(strict=True, max_errors=50)


class AuditDown:
    """A store whose audit trail cannot be written (the rest works): a full or failing bucket."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.down = True

    def create(self, key: str, data: bytes) -> None:
        if self.down and "/audit/" in key:
            raise StorageUnavailable("audit trail unavailable")
        self.storage.create(key, data)

    def read(self, key: str) -> bytes:
        return self.storage.read(key)

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        return self.storage.list(prefix, start_after)


def test_an_ingest_whose_event_cannot_be_stored_is_503_and_its_retry_is_recorded(
    tmp_path: Path,
) -> None:
    store = AuditDown(FileStorage(tmp_path))
    app = App(Settings(data_dir=str(tmp_path)), RunStore(store, "p"), NoAuth(), VALIDATOR)
    client = Client(app)
    document = factory.envelope(run_id="unrecorded")
    org = document["organization"]
    first = client.post("/v1/artifacts", data=body_of(document), content_type="application/json")
    assert first.status_code == 503
    assert first.headers["Retry-After"]
    # The run is stored: nothing is lost, and the client's retry is a replay...
    store.down = False
    retry = client.post("/v1/artifacts", data=body_of(document), content_type="application/json")
    assert retry.status_code == 202
    # ...which the trail records with the run's record, so seals cover it.
    (event,) = client.get(f"/v1/audit/{org}").get_json()["events"]
    assert (event["result"], event["record"]) == (
        "replayed",
        app.runs.record_key(identity_from_path(org, "checkout", "api", "unrecorded")),
    )
