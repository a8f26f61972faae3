"""The lineage graph on the real corpus: the real artifacts and the real diff between them."""

from __future__ import annotations

from typing import Any

import orjson

from stricture_server.lineage.edges import RunGraph
from stricture_server.lineage.graph import Location, OrgGraph
from stricture_server.lineage.impact import RunImpact, classify_run
from stricture_server.lineage.walk import blast_radius, escalation_chain

from . import factory
from .lineage import where

GATEWAYS = (
    "commercegateway",
    "fintechgateway",
    "governancehub",
    "logisticsgateway",
    "mediagateway",
)


def load(name: str) -> Any:
    return orjson.loads(factory.shared_fixture(name).read_bytes())


def current() -> RunGraph:
    return RunGraph.from_artifact(load("lineage-artifact-current.json"), "run-current")


def test_the_current_artifact_gives_its_five_gateways_and_their_edges() -> None:
    graph = current()
    assert sorted(graph.systems) == [f"{g}:api-service" for g in GATEWAYS]
    assert len(graph.fields) == 50
    commerce = {
        u: e.total for (c, u), e in graph.edges.items() if c == "commercegateway:api-service"
    }
    # each of its 10 fields reads the core API, the order stream and the UI; 5 read Shopify
    # and 4 the logging sidecar (each source names its upstream_system)
    assert commerce == {
        "commercecore:api-service": 10,
        "orderevents:stream-service": 10,
        "commercegateway:ui-service": 10,
        "shopify:api-service": 5,
        "commercegateway:logging-sidecar": 4,
    }
    # root edges: the sidecar and the UI share the gateway's root, so give none
    roots = {u: e.total for (c, u), e in graph.edges.items() if c == "commercegateway"}
    assert roots == {"commercecore": 10, "orderevents": 10, "shopify": 5}
    assert len(graph.edges) == 40
    assert graph.systems["commercegateway:api-service"].owners == ("team.ecommerce",)
    assert graph.systems["commercegateway:api-service"].escalations == (
        "pagerduty:ecommerce-oncall",
    )


def test_the_baseline_artifact_names_upstreams_by_target_and_provider() -> None:
    graph = RunGraph.from_artifact(load("lineage-artifact-baseline.json"), "run-baseline")
    assert sorted(graph.systems) == list(GATEWAYS)
    # no upstream_system there: the api/event target's first segment, and Shopify's provider id
    assert {u: e.total for (c, u), e in graph.edges.items() if c == "commercegateway"} == {
        "commercecore": 10,
        "orderevents": 10,
        "shopify": 5,
    }


def classify_real_diff(others: dict[Location, RunGraph]) -> RunImpact:
    """The real diff, a run of the "gateways" service (the current artifact), on the graph of
    that artifact and ``others``."""
    run = current()
    graph = OrgGraph({where("gateways"): run, **others})
    diff = load("lineage-diff-baseline-to-current.json")
    return classify_run(diff, graph, where("gateways"), field_systems=run.fields)


def test_the_real_diff_against_the_graph_of_its_own_artifact_is_self_only() -> None:
    result = classify_real_diff({})
    # every change names a gateway's api-service as its impact, and nothing reads those
    assert dict(result.counts) == {"downstream": 0, "self_only": 295, "unknown": 0}
    assert {c.system for c in result.changes} == {f"{g}:api-service" for g in GATEWAYS}


def test_a_consumer_service_makes_one_gateways_changes_downstream() -> None:
    storefront = factory.service_artifact(
        {"Storefront:web": ["MediaGateway:api-service"]}, owner="team.storefront"
    )
    result = classify_real_diff(
        {where("storefront"): RunGraph.from_artifact(storefront, "run-storefront")}
    )
    # 295 changes, 59 per gateway: the media gateway's are now downstream
    assert dict(result.counts) == {"downstream": 59, "self_only": 236, "unknown": 0}
    assert result.impacted_services == (where("storefront"),)
    hit = next(c for c in result.changes if c.impact == "downstream")
    assert hit.system == "mediagateway:api-service"
    assert [(i.hop.system, i.hop.depth, i.hop.path) for i in hit.impacted] == [
        ("storefront:web", 1, ("mediagateway:api-service", "storefront:web")),
    ]
    assert hit.impacted[0].ownership.contacts_from == "annotations"
    assert hit.impacted[0].ownership.owner == "team.storefront"


def test_the_real_diff_against_the_baseline_graph_resolves_through_the_source() -> None:
    # The baseline knows only the bare gateway ids and their upstreams: the impact services
    # (":api-service") are unknown to it; changes whose source is a core, a stream or a provider
    # resolve to it, and the gateway that reads it is another service's system.
    baseline = RunGraph.from_artifact(load("lineage-artifact-baseline.json"), "run-baseline")
    graph = OrgGraph({where("fleet-2025"): baseline})
    result = classify_run(load("lineage-diff-baseline-to-current.json"), graph, where("gateways"))
    assert dict(result.counts) == {"downstream": 125, "self_only": 0, "unknown": 170}
    assert {c.system for c in result.changes if c.system} == {
        "commercecore",
        "orderevents",
        "shopify",
        "ledgercore",
        "riskevents",
        "stripe",
        "governancecore",
        "auditevents",
        "sec",
        "logisticscore",
        "logisticsevents",
        "fedex",
        "mediacore",
        "audienceevents",
        "spotify",
    }


def test_escalation_from_a_real_gateway_lists_its_upstreams_with_annotated_contacts() -> None:
    graph = OrgGraph({where("gateways"): current()})
    steps = escalation_chain(graph, "commercegateway:api-service")
    assert [(s.system, s.depth) for s in steps] == [
        ("commercegateway:api-service", 0),
        ("commercecore:api-service", 1),
        ("commercegateway:logging-sidecar", 1),
        ("commercegateway:ui-service", 1),
        ("orderevents:stream-service", 1),
        ("shopify:api-service", 1),
    ]
    # the root edges make the provider's root reach the gateway's root
    (hop,) = blast_radius(graph, "shopify")
    assert (hop.system, hop.path, hop.field_count) == (
        "commercegateway",
        ("shopify", "commercegateway"),
        5,
    )
