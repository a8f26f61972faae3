"""The edges one artifact gives, and the per-run RunGraph object."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stricture_server.errors import LineageObjectInvalid
from stricture_server.lineage.edges import EVIDENCE_KEPT, RunGraph, upstream_system
from stricture_server.lineage.systems import root, system_id

from . import factory


def test_system_ids_are_trimmed_and_lower_cased() -> None:
    assert system_id("  CommerceGateway:API-service \n") == "commercegateway:api-service"
    assert system_id(None) == ""
    assert system_id(42) == ""


def test_a_root_is_the_part_before_the_first_colon() -> None:
    assert root("commercegateway:api-service") == "commercegateway"
    assert root("commercegateway") == "commercegateway"
    assert root("a:b:c") == "a"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # upstream_system wins over everything else
        (
            factory.lineage_source(upstream="Ledger:API", scope="external", provider="stripe"),
            "ledger:api",
        ),
        # an external source names its provider
        (
            factory.lineage_source(scope="external", provider="stripe", target="Stripe.Charge"),
            "stripe",
        ),
        # an external source without a provider names its target's system
        (factory.lineage_source(scope="external", target="Fedex.Track"), "fedex"),
        # provider_id counts for external sources only
        (factory.lineage_source(scope="internal", provider="stripe", target="Core.Get"), "core"),
        # an api or event target up to its first "."
        (factory.lineage_source(kind="event", target="OrderEvents.Changed.V2"), "orderevents"),
        # ...or "/" when it has no "."
        (factory.lineage_source(target="Billing/invoices"), "billing"),
        # the CLI looks for "." first: "a/b.c" names "a/b"
        (factory.lineage_source(target="Billing/v1.invoices"), "billing/v1"),
        # a leading separator does not count
        (factory.lineage_source(target=".Hidden"), ".hidden"),
        # a bare target is the system
        (factory.lineage_source(target=" Search "), "search"),
        # other kinds name no system unless told
        (factory.lineage_source(kind="db", target="orders.table"), ""),
        (factory.lineage_source(kind="file", target="exports/orders.csv"), ""),
        ({"kind": "api", "target": 7}, ""),
        ({"kind": "api"}, ""),
        ({"upstream_system": "   ", "kind": "api", "target": "Core.Get"}, "core"),
    ],
)
def test_upstream_of_one_source(source: dict[str, Any], expected: str) -> None:
    assert upstream_system(source) == expected


def test_fields_give_edges_to_their_upstreams_and_between_roots() -> None:
    artifact = factory.service_artifact({"Orders:api": ["Inventory:api", "Orders:cache"]})
    graph = RunGraph.from_artifact(artifact, "run-1")
    assert set(graph.edges) == {
        ("orders:api", "inventory:api"),
        ("orders", "inventory"),  # the roots of the first edge
        ("orders:api", "orders:cache"),  # no root edge: orders -> orders is a self-edge
    }
    assert graph.systems.keys() == {"orders:api"}
    assert graph.owned == {"orders:api", "orders"}
    assert graph.fields == {
        "orders_api_from_inventory_api": "orders:api",
        "orders_api_from_orders_cache": "orders:api",
    }


def test_self_edges_are_dropped() -> None:
    artifact = factory.service_artifact({"Orders": ["orders", " ORDERS "]})
    graph = RunGraph.from_artifact(artifact, "run-1")
    assert graph.edges == {}
    assert graph.systems.keys() == {"orders"}


def test_evidence_counts_every_field_and_names_the_first_few() -> None:
    fields = [
        factory.lineage_field(
            f"field_{n:03d}", "Orders:api", factory.lineage_source(upstream="Core:api")
        )
        for n in range(EVIDENCE_KEPT + 5)
    ]
    graph = RunGraph.from_artifact({"schema_version": "1", "fields": fields}, "run-1")
    evidence = graph.edges["orders:api", "core:api"]
    assert evidence.total == EVIDENCE_KEPT + 5
    assert evidence.fields == tuple(f"field_{n:03d}" for n in range(EVIDENCE_KEPT))
    # the same field naming the same upstream twice is one piece of evidence
    twice = factory.lineage_field(
        "twice",
        "A:x",
        factory.lineage_source(upstream="B:y"),
        factory.lineage_source(target="B.Get"),
    )
    graph = RunGraph.from_artifact({"schema_version": "1", "fields": [twice]}, "run-2")
    assert graph.edges["a", "b"].total == 1


def test_annotations_are_kept_per_system_first_seen_first_without_repeats() -> None:
    fields = [
        factory.lineage_field("one", "Orders:api", owner="team.b", escalation="pagerduty:b"),
        factory.lineage_field("two", "orders:api", owner="team.a", escalation="pagerduty:b"),
        factory.lineage_field("three", "Orders:api", owner="team.b", escalation="slack:#a"),
    ]
    graph = RunGraph.from_artifact({"schema_version": "1", "fields": fields}, "run-1")
    notes = graph.systems["orders:api"]
    assert notes.owners == ("team.b", "team.a")
    assert notes.escalations == ("pagerduty:b", "slack:#a")


@pytest.mark.parametrize(
    "artifact",
    [
        {},
        {"fields": "many"},
        {"fields": [None, 3, "x"]},
        {"fields": [{"source_system": "  "}, {"source_system": 5, "sources": []}]},
        {"fields": [{"source_system": "A", "sources": "B"}]},
        {"fields": [{"source_system": "A", "sources": [None, {"kind": "api", "target": ""}]}]},
    ],
)
def test_malformed_parts_give_nothing_rather_than_fail(artifact: dict[str, Any]) -> None:
    graph = RunGraph.from_artifact(artifact, "run-1")
    assert graph.edges == {}


def test_json_form_round_trips_and_is_stable() -> None:
    spec = factory.SHOP_ORG
    for name, artifact in factory.lineage_org(spec).items():
        graph = RunGraph.from_artifact(artifact, f"run-{name}")
        data = graph.to_json()
        assert orjson.loads(data)["schema_version"] == 1
        assert RunGraph.from_json(data) == graph
        assert RunGraph.from_json(data).to_json() == data


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"schema_version": 2, "run_id": "r", "systems": {}, "fields": {}, "edges": []}',
        b'{"schema_version": 1, "run_id": "r", "systems": {}, "fields": {}}',
        b'{"schema_version": 1, "run_id": "r", "systems": {}, "fields": {},'
        b' "edges": [{"from": "a", "to": "b", "count": 0, "fields": []}]}',
        b'{"schema_version": 1, "run_id": "r", "systems": {"a": {"owners": [1],'
        b' "escalations": []}}, "fields": {}, "edges": []}',
    ],
)
def test_anything_else_is_refused_when_read_back(data: bytes) -> None:
    with pytest.raises(LineageObjectInvalid):
        RunGraph.from_json(data)
