"""Impact classes of a diff's changes, the run summary, the registry and escalations."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stricture_server.errors import InvalidInput
from stricture_server.ingest.validation import EnvelopeValidator
from stricture_server.lineage.documents import (
    compact_impact_document,
    escalation_document,
    expand_impact_document,
    impact_document,
)
from stricture_server.lineage.edges import Annotations
from stricture_server.lineage.escalation import escalate
from stricture_server.lineage.impact import classify_run, reach_total, resolve_system
from stricture_server.lineage.registry import Contact, Flow, Registry

from . import factory
from .lineage import org_graph, run_graphs, where

REGISTRY: dict[str, Any] = {
    "strict:flows": [
        {"id": "checkout", "name": "Checkout", "level": 1},
        {"id": "reporting", "name": "Reporting", "level": 3},
    ],
    "systems": [
        {
            "id": "Billing:api",
            "name": "Billing API",
            "owner_team": "team.billing-platform",
            "runbook_url": "https://runbooks.example.com/billing",
            "doc_root": "https://docs.example.com/billing",
            "flows": ["checkout", "refunds"],
            "escalation": [
                {"role": "primary", "name": "Billing Oncall", "channel": "pagerduty:billing"}
            ],
        },
        {"id": "Reports", "name": "Reports", "owner_team": "team.data", "flows": ["reporting"]},
    ],
}


def change(
    service: str | None = None, source: str | None = None, field_id: str = "f_x"
) -> dict[str, Any]:
    """A diff change naming ``service`` as its impact and ``source`` as its source."""
    found: dict[str, Any] = {
        "severity": "high",
        "change_type": "field_removed",
        "field_id": field_id,
        "message": "m",
    }
    if service is not None:
        found["impact"] = {"service": service, "api": field_id}
    if source is not None:
        found["source"] = {"service": source, "api": "x"}
    return found


def diff(*changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": {"total": len(changes), "high": len(changes), "medium": 0, "low": 0, "info": 0},
        "changes": list(changes),
    }


def test_the_system_is_resolved_from_impact_then_source_then_the_field() -> None:
    graph = org_graph(factory.SHOP_ORG)
    fields = {"f_x": "billing:api"}
    assert resolve_system(change("Orders:API", "Billing:api"), graph, fields) == "orders:api"
    assert resolve_system(change("Nowhere", " Billing:api "), graph, fields) == "billing:api"
    assert resolve_system(change("Nowhere", "Elsewhere"), graph, fields) == "billing:api"
    assert resolve_system(change(), graph, fields) == "billing:api"
    assert resolve_system(change(field_id="f_other"), graph, fields) is None
    assert (
        resolve_system({"impact": "orders:api", "source": 3, "field_id": 9}, graph, fields) is None
    )


def test_changes_are_downstream_self_only_or_unknown() -> None:
    graph = org_graph(factory.SHOP_ORG)
    result = classify_run(
        diff(
            change("Orders:api"),  # billing and shipping read it: other services
            change("Reports:batch"),  # nothing reads it
            change("Orders:worker"),  # known, nothing reads it
            change("Nowhere:api", "Elsewhere"),  # no system of the graph
            change(),  # nor through its field
        ),
        graph,
        where("orders"),
    )
    assert [(c.index, c.system, c.impact) for c in result.changes] == [
        (0, "orders:api", "downstream"),
        (1, "reports:batch", "self_only"),
        (2, "orders:worker", "self_only"),
        (3, None, "unknown"),
        (4, None, "unknown"),
    ]
    assert dict(result.counts) == {"downstream": 1, "self_only": 2, "unknown": 2}
    assert result.impacted_services == (where("billing"), where("reports"), where("shipping"))
    first = result.changes[0].impacted
    assert [(i.hop.system, i.locations) for i in first] == [
        ("billing:api", (where("billing"),)),
        ("orders:worker", (where("orders"),)),
        ("shipping:worker", (where("shipping"),)),
        ("reports:batch", (where("reports"),)),
    ]


def test_a_malformed_diff_gives_unknown_changes_or_none() -> None:
    graph = org_graph(factory.SHOP_ORG)
    assert classify_run({"changes": "many"}, graph, where("orders")).changes == ()
    assert classify_run({}, graph, where("orders")).changes == ()
    odd = classify_run({"changes": [None, 7, {"impact": []}]}, graph, where("orders"))
    assert [c.impact for c in odd.changes] == ["unknown", "unknown", "unknown"]


def test_consumers_inside_the_own_service_are_self_only() -> None:
    graph = org_graph({"solo": {"Solo:api": ["Core:db"], "Solo:worker": ["Solo:api"]}})
    result = classify_run(diff(change("Solo:api")), graph, where("solo"))
    (only,) = result.changes
    assert only.impact == "self_only"
    assert [i.hop.system for i in only.impacted] == ["solo:worker"]
    assert result.impacted_services == ()


def test_the_depth_limit_bounds_the_classification() -> None:
    graph = org_graph(factory.chain_org(4))
    # s0:api is read by s1:api (another service) at depth 1
    assert (
        classify_run(diff(change("s0:api")), graph, where("s0"), depth=1).counts["downstream"] == 1
    )
    assert (
        classify_run(diff(change("s0:api")), graph, where("s0"), depth=0).counts["self_only"] == 1
    )


def test_the_run_summary_names_the_most_critical_flow_and_who_to_call() -> None:
    graph = org_graph(factory.SHOP_ORG)
    registry = Registry.parse(REGISTRY)
    result = classify_run(diff(change("Orders:api")), graph, where("orders"), registry=registry)
    assert result.highest_flow == Flow("checkout", "Checkout", 1)
    by_system = {i.hop.system: i.ownership for i in result.changes[0].impacted}
    billing = by_system["billing:api"]
    assert billing.owner == "team.billing-platform"
    assert billing.contacts == (Contact("primary", "Billing Oncall", "pagerduty:billing"),)
    assert billing.contacts_from == "registry"
    assert billing.flows == (Flow("checkout", "Checkout", 1), Flow("refunds"))  # refunds: no level
    # reports:batch takes its root's entry: no contacts there, so the annotations give them
    reports = by_system["reports:batch"]
    assert (reports.owner, reports.contacts_from) == ("team.data", "annotations")
    assert reports.contacts == (
        Contact(role="owner", name="team.reports"),
        Contact(role="escalation", channel="pagerduty:reports-oncall"),
    )
    shipping = by_system["shipping:worker"]
    assert (shipping.owner, shipping.contacts_from, shipping.flows) == (
        "team.shipping",
        "annotations",
        (),
    )
    none = classify_run(diff(change("Reports:batch")), graph, where("reports"), registry=registry)
    assert none.highest_flow is None


def test_a_system_with_neither_registry_entry_nor_annotations_has_no_contacts() -> None:
    ownership = Registry().ownership("ghost:api")
    assert (ownership.owner, ownership.contacts, ownership.contacts_from) == (None, (), "none")
    bare = Registry.parse({"systems": [{"id": "Ghost", "name": "Ghost", "owner_team": "team.g"}]})
    assert bare.ownership("ghost").contacts_from == "none"
    noted = bare.ownership("ghost", Annotations(("team.x",), ()))
    assert (noted.owner, noted.contacts_from) == ("team.g", "annotations")


def test_escalation_steps_carry_owners_and_where_contacts_came_from() -> None:
    graph = org_graph(factory.SHOP_ORG)
    steps = escalate(graph, " Shipping:Worker ", Registry.parse(REGISTRY), depth=1)
    assert [
        (e.step.system, e.step.reason, e.locations, e.ownership.contacts_from) for e in steps
    ] == [
        ("shipping:worker", "reported_bad_data", (where("shipping"),), "annotations"),
        ("billing:api", "upstream_of:shipping:worker", (where("billing"),), "registry"),
        ("orders:api", "upstream_of:shipping:worker", (where("orders"),), "annotations"),
    ]
    assert steps[1].ownership.runbook_url == "https://runbooks.example.com/billing"
    assert steps[1].ownership.doc_root == "https://docs.example.com/billing"


@pytest.mark.parametrize(
    ("document", "pointers"),
    [
        ("systems", {""}),
        ({}, {""}),
        (
            {
                "systems": [
                    {"id": "1bad", "name": "", "owner_team": "t", "runbook_url": "not a uri"}
                ]
            },
            {"/systems/0/id", "/systems/0/name", "/systems/0/runbook_url"},
        ),
        (
            {
                "strict:flows": [{"id": "Checkout", "name": "C", "level": -1, "extra": 1}],
                "systems": [],
            },
            {"/strict:flows/0", "/strict:flows/0/id", "/strict:flows/0/level"},
        ),
        (
            {
                "systems": [
                    {"id": "Billing", "name": "B", "owner_team": "t"},
                    {"id": "billing", "name": "b", "owner_team": "u"},
                ]
            },
            {"/systems/1/id"},
        ),
    ],
)
def test_an_invalid_registry_lists_every_violation(document: Any, pointers: set[str]) -> None:
    with pytest.raises(InvalidInput) as raised:
        Registry.parse(document)
    assert {p.path for p in raised.value.problems} == pointers


def test_run_graphs_of_the_factory_orgs_are_valid_artifacts() -> None:
    # The org builders stay honest: what the lineage tests feed in is what ingest accepts.
    validator = EnvelopeValidator(strict=True, max_errors=5)
    for spec in (factory.SHOP_ORG, factory.CYCLE_ORG, factory.chain_org(3)):
        for artifact in factory.lineage_org(spec).values():
            assert validator.problems(factory.envelope(artifact=artifact)) == []
    assert len(run_graphs(factory.SHOP_ORG)) == 5


def test_the_blast_radius_answer_names_each_hop_its_services_evidence_and_contacts() -> None:
    graph = org_graph(factory.SHOP_ORG)
    result = classify_run(
        diff(change("Orders:api"), change("Nowhere")),
        graph,
        where("orders"),
        registry=Registry.parse(REGISTRY),
    )
    answer = orjson.loads(orjson.dumps(impact_document(result)))
    assert answer["summary"] == {
        "impacted_services": 3,
        "services": [
            {"organization": "acme", "project": "platform", "service": s}
            for s in ("billing", "reports", "shipping")
        ],
        "highest_flow": {"id": "checkout", "name": "Checkout", "level": 1},
        "changes": {"downstream": 1, "self_only": 0, "unknown": 1},
    }
    first, second = answer["changes"]
    assert (second["index"], second["system"], second["impact"], second["impacted"]) == (
        1,
        None,
        "unknown",
        [],
    )
    assert (first["index"], first["system"], first["impact"]) == (0, "orders:api", "downstream")
    assert first["impacted"][0] == {
        "system": "billing:api",
        "depth": 1,
        "path": ["orders:api", "billing:api"],
        "services": [{"organization": "acme", "project": "platform", "service": "billing"}],
        "field_count": 1,
        "fields": [
            {
                "organization": "acme",
                "project": "platform",
                "service": "billing",
                "field_id": "billing_api_from_orders_api",
            }
        ],
        "owner": "team.billing-platform",
        "name": "Billing API",
        "runbook_url": "https://runbooks.example.com/billing",
        "doc_root": "https://docs.example.com/billing",
        "contacts": [{"role": "primary", "name": "Billing Oncall", "channel": "pagerduty:billing"}],
        "contacts_from": "registry",
        "flows": [
            {"id": "checkout", "name": "Checkout", "level": 1},
            {"id": "refunds", "name": None, "level": None},
        ],
    }


def test_the_escalation_answer_lists_steps_closest_first() -> None:
    graph = org_graph(factory.SHOP_ORG)
    answer = escalation_document(escalate(graph, "billing:api"))
    assert [(s["system"], s["depth"], s["reason"], s["contacts_from"]) for s in answer] == [
        ("billing:api", 0, "reported_bad_data", "annotations"),
        ("orders:api", 1, "upstream_of:billing:api", "annotations"),
        ("inventory:api", 2, "upstream_of:orders:api", "annotations"),
    ]
    assert answer[1]["owner"] == "team.orders"
    assert answer[1]["contacts"] == [
        {"role": "owner", "name": "team.orders", "channel": ""},
        {"role": "escalation", "name": "", "channel": "pagerduty:orders-oncall"},
    ]
    assert answer[2]["services"] == [
        {"organization": "acme", "project": "platform", "service": "inventory"}
    ]


def test_the_stored_compact_form_expands_to_the_answer() -> None:
    graph = org_graph(factory.SHOP_ORG)
    many = diff(
        *[change("Orders:api") for _ in range(5)], change("Nobody:api"), change("Billing:api")
    )
    result = classify_run(many, graph, where("orders"), registry=Registry.parse(REGISTRY))
    compact = compact_impact_document(result)
    assert sorted(compact["reached"]) == ["billing:api", "orders:api"]
    assert expand_impact_document(orjson.loads(orjson.dumps(compact))) == orjson.loads(
        orjson.dumps(impact_document(result))
    )


def test_the_reach_of_a_diff_adds_up_its_distinct_systems_and_stops_past_the_limit() -> None:
    graph = org_graph(factory.SHOP_ORG)
    # orders:api reaches 4 systems, billing:api 2 (shipping, reports); repeats count once.
    changes = diff(change("Orders:api"), change("orders:API"), change("Billing:api"))
    assert reach_total(changes, graph, limit=100) == 6
    assert reach_total(changes, graph, limit=1) == 2  # billing first: stopped past the limit
    assert reach_total(diff(change("Nobody:api"), change("Reports:batch")), graph, limit=9) == 0
    assert reach_total({"changes": "no"}, graph, limit=9) == 0
