"""The lineage endpoints through every delivery: blast radius, graph, escalation, registry.

A shop org (tests/factory.py ``SHOP_ORG``) is ingested service by service; the producer's run
with a diff comes last, so its blast radius, computed at ingest, sees every consumer.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import yaml  # type: ignore[import-untyped]

from . import factory
from .deliveries import Deployment
from .test_conformance import AUTH, JSON, body_of, ingest
from .test_lineage_impact import REGISTRY, change, diff

PROJECT = "platform"


def run_hash(location: str) -> str:
    """How a run's own feed entry names it (``keys.run_feed_name``)."""
    return hashlib.sha256(location.encode()).hexdigest()[:32]


def get(deployment: Deployment, path: str, status: int = 200) -> Any:
    """GET ``path`` and its JSON answer, checking the status."""
    reply = deployment.delivery.send("GET", path, AUTH)
    assert reply.status == status, reply.body[:500]
    return reply.json()


def ingest_org(deployment: Deployment, org: str, **extra: Any) -> dict[str, str]:
    """Ingest the latest run of each service of the shop org; orders last, with ``extra``."""
    artifacts = factory.lineage_org(factory.SHOP_ORG)
    locations = {}
    for name in [*sorted(set(artifacts) - {"orders"}), "orders"]:
        document = factory.envelope(
            organization=org,
            project=PROJECT,
            service=name,
            run_id="r1",
            artifact=artifacts[name],
            **(extra if name == "orders" else {}),
        )
        reply = ingest(deployment, document)
        assert reply.status == 202, reply.body[:300]
        locations[name] = reply.json()["location"]
    return locations


def test_a_run_blast_radius_is_stored_at_ingest_and_served(deployment: Deployment) -> None:
    org = factory.unique("shop")
    posted = deployment.delivery.send("POST", f"/v1/registry/{org}", JSON, body_of(REGISTRY))
    assert posted.status == 201, posted.body[:300]
    locations = ingest_org(deployment, org, diff=diff(change("Orders:api"), change("Nobody:api")))
    found = get(deployment, f"/v1/blast-radius/{org}/{PROJECT}/orders/r1")
    assert found["computed"] == "at_ingest"
    assert found["graph"]["services"] == 5
    assert found["registry_version"] == posted.json()["version"]
    first, second = found["changes"]
    assert (first["index"], first["system"], first["impact"]) == (0, "orders:api", "downstream")
    assert (second["system"], second["impact"]) == (None, "unknown")
    assert second["system"] not in found["reached"]
    reached = {item["system"]: item for item in found["reached"][first["system"]]}
    assert set(reached) == {"billing:api", "orders:worker", "shipping:worker", "reports:batch"}
    assert reached["reports:batch"]["path"] == ["orders:api", "shipping:worker", "reports:batch"]
    assert reached["billing:api"]["contacts_from"] == "registry"
    assert reached["billing:api"]["services"] == [
        {"organization": org, "project": PROJECT, "service": "billing"}
    ]
    summary = found["summary"]
    assert summary["impacted_services"] == 3
    assert summary["highest_flow"] == {"id": "checkout", "name": "Checkout", "level": 1}
    assert summary["changes"] == {"downstream": 1, "self_only": 0, "unknown": 1}
    # Stored once beside the run: a second read answers the same bytes.
    again = deployment.delivery.send("GET", f"/v1/blast-radius/{org}/{PROJECT}/orders/r1", AUTH)
    assert again.json() == found
    # The change feed gives each change its impact, and filters on it.
    feed = get(deployment, f"/v1/changes/{org}/{PROJECT}/orders")["changes"]
    assert [(c["index"], c["impact"]) for c in feed] == [(0, "downstream"), (1, "unknown")]
    unknown = get(deployment, f"/v1/changes/{org}/{PROJECT}/orders?impact=unknown,self_only")
    assert [c["index"] for c in unknown["changes"]] == [1]
    # Each run's graph is its feed entry, named after the run (found again by a replay).
    entries = deployment.storage.list(f"{deployment.prefix}/lineage/v1/org={org}/feed/")
    named = {key.rpartition("-")[2] for key in entries}
    assert named == {f"{run_hash(location)}.json" for location in locations.values()}
    keys = list(deployment.storage.list(f"{deployment.prefix}/v1/org={org}/"))
    assert not any(k.endswith("/lineage-graph.json") for k in keys)
    assert sum(k.endswith("/run=r1/blast-radius.json") for k in keys) == 1


def test_a_run_without_a_stored_blast_radius_gets_one_on_first_read(
    deployment: Deployment,
) -> None:
    org = factory.unique("shop")
    ingest_org(deployment, org)
    found = get(deployment, f"/v1/blast-radius/{org}/{PROJECT}/billing/latest")
    assert (found["computed"], found["run_id"], found["changes"]) == ("on_read", "r1", [])
    assert found["registry_version"] is None
    assert get(deployment, f"/v1/blast-radius/{org}/{PROJECT}/billing/r1") == found


def test_the_org_graph_its_views_and_escalation(deployment: Deployment) -> None:
    org = factory.unique("shop")
    ingest_org(deployment, org)
    whole = get(deployment, f"/v1/graph/{org}")
    systems = {s["system"]: s["owners"] for s in whole["systems"]}
    assert systems["orders:api"] == [
        {"organization": org, "project": PROJECT, "service": "orders", "run_id": "r1"}
    ]
    assert {"billing", "orders", "inventory"} <= set(systems)
    edges = {(e["from"], e["to"]) for e in whole["edges"]}
    assert ("billing:api", "orders:api") in edges
    assert ("billing", "orders") in edges
    near = get(deployment, f"/v1/graph/{org}?system=Billing:API&depth=1")
    nearby = {s["system"] for s in near["systems"]}
    assert nearby == {"billing:api", "orders:api", "shipping:worker"}
    assert near["depth"] == 1
    drawn = deployment.delivery.send("GET", f"/v1/graph/{org}?format=dot", AUTH)
    assert drawn.status == 200
    assert drawn.headers.get("Content-Type", "").startswith("text/vnd.graphviz")
    assert drawn.body.startswith(b"digraph lineage")
    chain = get(deployment, f"/v1/escalation/{org}/Shipping:worker")["chain"]
    assert [(s["system"], s["depth"], s["reason"]) for s in chain] == [
        ("shipping:worker", 0, "reported_bad_data"),
        ("billing:api", 1, "upstream_of:shipping:worker"),
        ("orders:api", 1, "upstream_of:shipping:worker"),
        ("inventory:api", 2, "upstream_of:orders:api"),
    ]
    assert chain[0]["contacts_from"] == "annotations"
    short = get(deployment, f"/v1/escalation/{org}/shipping:worker?depth=1")["chain"]
    assert [s["system"] for s in short] == ["shipping:worker", "billing:api", "orders:api"]


def test_registry_versions_in_json_and_yaml_latest_wins(deployment: Deployment) -> None:
    org = factory.unique("reg")
    first = deployment.delivery.send("POST", f"/v1/registry/{org}", JSON, body_of(REGISTRY))
    assert first.status == 201, first.body[:300]
    renamed = {**REGISTRY, "systems": [{**REGISTRY["systems"][0], "name": "Billing"}]}
    as_yaml = yaml.safe_dump(renamed).encode()
    headers = {**AUTH, "Content-Type": "application/yaml"}
    second = deployment.delivery.send("POST", f"/v1/registry/{org}", headers, as_yaml)
    assert second.status == 201, second.body[:300]
    assert first.json()["version"] != second.json()["version"]
    latest = get(deployment, f"/v1/registry/{org}")
    assert latest["version"] == second.json()["version"]
    assert latest["registry"] == orjson.loads(orjson.dumps(renamed))
    stored = list(deployment.storage.list(f"{deployment.prefix}/lineage/v1/org={org}/registry/"))
    assert len(stored) == 2


def test_a_yaml_registry_keeps_timestamps_as_text(deployment: Deployment) -> None:
    org = factory.unique("reg")
    text = b"systems:\n  - id: Orders\n    name: 2026-03-01\n    owner_team: team.orders\n"
    headers = {**AUTH, "Content-Type": "application/yaml"}
    posted = deployment.delivery.send("POST", f"/v1/registry/{org}", headers, text)
    assert posted.status == 201, posted.body[:300]
    stored = get(deployment, f"/v1/registry/{org}")["registry"]
    assert stored["systems"][0]["name"] == "2026-03-01"
