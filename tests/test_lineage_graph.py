"""The org graph and its walks: consumers, blast radius, escalation chains, views, DOT."""

from __future__ import annotations

from stricture_server.lineage.documents import graph_document
from stricture_server.lineage.edges import RunGraph
from stricture_server.lineage.graph import FieldRef, Location, OrgGraph
from stricture_server.lineage.render import dot, select
from stricture_server.lineage.walk import blast_radius, escalation_chain

from . import factory
from .lineage import org_graph, run_graphs, where


def test_consumers_and_owners_are_indexed() -> None:
    graph = org_graph(factory.SHOP_ORG)
    assert graph.consumers["orders:api"] == ["billing:api", "orders:worker", "shipping:worker"]
    assert graph.consumers["orders"] == ["billing", "shipping"]
    assert graph.upstreams["shipping:worker"] == ["billing:api", "orders:api"]
    assert graph.owned_by("orders:api") == [where("orders")]
    assert graph.owned_by("orders") == [where("orders")]  # the root of what it declares
    assert graph.owned_by("nowhere") == []
    assert graph.known("inventory")
    assert not graph.known("nowhere")


def test_a_system_declared_by_two_services_belongs_to_both() -> None:
    graph = org_graph({"a": {"Shared:api": ["X:api"]}, "b": {"Shared:api": ["Y:api"]}})
    assert graph.owned_by("shared:api") == [where("a"), where("b")]
    assert graph.upstreams["shared:api"] == ["x:api", "y:api"]
    # each edge's evidence comes from the service that gives it, not from every owner
    edge = graph.edge("shared:api", "y:api")
    assert (edge.field_count, edge.fields) == (1, (FieldRef(where("b"), "shared_api_from_y_api"),))
    assert graph.edge_count() == 4  # two edges, and their roots


def test_blast_radius_walks_consumers_breadth_first_with_paths_and_evidence() -> None:
    graph = org_graph(factory.SHOP_ORG)
    hops = blast_radius(graph, "orders:api")
    assert [(h.system, h.depth, h.path) for h in hops] == [
        ("billing:api", 1, ("orders:api", "billing:api")),
        ("orders:worker", 1, ("orders:api", "orders:worker")),
        ("shipping:worker", 1, ("orders:api", "shipping:worker")),
        ("reports:batch", 2, ("orders:api", "shipping:worker", "reports:batch")),
    ]
    assert hops[3].fields == (FieldRef(where("reports"), "reports_batch_from_shipping_worker"),)
    assert hops[3].field_count == 1
    # roots walk too
    assert [h.system for h in blast_radius(graph, "inventory")] == [
        "orders",
        "billing",
        "shipping",
        "reports",
    ]


def test_a_system_nothing_reads_or_nobody_knows_has_no_blast_radius() -> None:
    graph = org_graph(factory.SHOP_ORG)
    assert blast_radius(graph, "reports:batch") == []
    assert blast_radius(graph, "nowhere") == []


def test_depth_limits_hold() -> None:
    graph = org_graph(factory.chain_org(12))
    default = blast_radius(graph, "s0:api")
    assert [(h.system, h.depth) for h in default] == [(f"s{i}:api", i) for i in range(1, 9)]
    assert default[-1].path == tuple(f"s{i}:api" for i in range(9))
    assert [h.system for h in blast_radius(graph, "s0:api", depth=2)] == ["s1:api", "s2:api"]
    assert blast_radius(graph, "s0:api", depth=0) == []
    assert len(blast_radius(graph, "s0:api", depth=50)) == 11
    steps = escalation_chain(graph, "s11:api", depth=3)
    assert [(s.system, s.depth) for s in steps] == [
        ("s11:api", 0),
        ("s10:api", 1),
        ("s9:api", 2),
        ("s8:api", 3),
    ]


def test_cycles_terminate_and_visit_each_system_once() -> None:
    graph = org_graph(factory.CYCLE_ORG)
    hops = blast_radius(graph, "alpha:api", depth=100)
    assert [(h.system, h.depth) for h in hops] == [("beta:api", 1), ("gamma:api", 2)]
    steps = escalation_chain(graph, "alpha:api", depth=100)
    assert [(s.system, s.depth, s.reason) for s in steps] == [
        ("alpha:api", 0, "reported_bad_data"),
        ("gamma:api", 1, "upstream_of:alpha:api"),
        ("beta:api", 2, "upstream_of:gamma:api"),
    ]


def test_escalation_chain_goes_upstream_closest_first_sorted_within_a_depth() -> None:
    graph = org_graph(factory.SHOP_ORG)
    steps = escalation_chain(graph, "reports:batch")
    assert [(s.system, s.depth, s.reason) for s in steps] == [
        ("reports:batch", 0, "reported_bad_data"),
        ("shipping:worker", 1, "upstream_of:reports:batch"),
        ("billing:api", 2, "upstream_of:shipping:worker"),
        ("orders:api", 2, "upstream_of:shipping:worker"),
        ("inventory:api", 3, "upstream_of:orders:api"),
    ]


def test_evidence_is_capped_but_counted_across_services() -> None:
    many = [
        factory.lineage_field(
            f"field_{n:03d}", "Report:api", factory.lineage_source(upstream="Core:api")
        )
        for n in range(15)
    ]
    runs = {
        where("a"): RunGraph.from_artifact({"schema_version": "1", "fields": many}, "run-a"),
        where("b"): RunGraph.from_artifact({"schema_version": "1", "fields": many[:4]}, "run-b"),
    }
    graph = OrgGraph(runs, evidence_limit=3)
    (hop,) = blast_radius(graph, "core:api")
    assert hop.field_count == 19
    assert hop.fields == tuple(FieldRef(where("a"), f"field_{n:03d}") for n in range(3))


def test_narrowing_keeps_the_up_and_downstream_of_one_system() -> None:
    graph = org_graph(factory.SHOP_ORG)
    assert select(graph, "billing:api", depth=1) == {"billing:api", "orders:api", "shipping:worker"}
    assert select(graph, "billing:api") == {
        "billing:api",
        "orders:api",
        "inventory:api",
        "shipping:worker",
        "reports:batch",
    }
    assert select(graph, "nowhere") == set()
    assert select(graph) == set(graph.systems())


def test_the_document_names_owners_runs_and_edges() -> None:
    graph = org_graph(factory.SHOP_ORG)
    view = graph_document(graph, select(graph, "billing:api", depth=1))
    assert view["systems"][0] == {
        "system": "billing:api",
        "owners": [
            {
                "organization": "acme",
                "project": "platform",
                "service": "billing",
                "run_id": "run-billing",
            }
        ],
    }
    assert [s["system"] for s in view["systems"]] == [
        "billing:api",
        "orders:api",
        "shipping:worker",
    ]
    assert [(e["from"], e["to"]) for e in view["edges"]] == [
        ("billing:api", "orders:api"),
        ("shipping:worker", "billing:api"),
        ("shipping:worker", "orders:api"),
    ]
    assert view["edges"][0]["fields"] == [
        {
            "organization": "acme",
            "project": "platform",
            "service": "billing",
            "field_id": "billing_api_from_orders_api",
        }
    ]
    assert view["edges"][0]["field_count"] == 1


def test_dot_draws_consumers_to_upstreams_with_owners() -> None:
    graph = org_graph(factory.SHOP_ORG)
    assert dot(graph, select(graph, "billing:api", depth=1)) == (
        "digraph lineage {\n"
        "\tgraph [rankdir=LR]\n"
        "\tnode [shape=box]\n"
        '\tn0 [label="billing:api\\nacme/platform/billing"]\n'
        '\tn1 [label="orders:api\\nacme/platform/orders"]\n'
        '\tn2 [label="shipping:worker\\nacme/platform/shipping"]\n'
        "\tn0 -> n1 [label=1]\n"
        "\tn2 -> n0 [label=1]\n"
        "\tn2 -> n1 [label=1]\n"
        "}\n"
    )


def test_dot_quotes_any_system_id() -> None:
    # Ids come from artifacts: quotes, backslashes, braces and DOT keywords stay labels.
    odd = 'a"b\\'
    artifact = {
        "schema_version": "1",
        "fields": [
            {"source_system": odd, "sources": [{"upstream_system": "node"}]},
            {"source_system": "x} digraph {y", "sources": [{"upstream_system": "node"}]},
        ],
    }
    graph = OrgGraph({Location("o", "p", "s"): RunGraph.from_artifact(artifact, "r")})
    source = dot(graph, select(graph))
    assert '\tn0 [label="a\\"b\\\\\\no/p/s"]' in source
    assert '\tn1 [label="node"]' in source  # a DOT keyword, quoted
    assert '\tn2 [label="x} digraph {y\\no/p/s"]' in source
    assert source.count("->") == 2


def test_a_run_of_the_same_shape_swaps_in_and_answers_as_a_graph_assembled_anew() -> None:
    runs = run_graphs(factory.SHOP_ORG)
    graph = OrgGraph(runs)
    again = RunGraph.from_artifact(factory.lineage_org(factory.SHOP_ORG)["billing"], "run-2")
    swapped = graph.with_run(where("billing"), again)
    assert swapped is not None
    fresh = OrgGraph({**runs, where("billing"): again})
    everything = set(fresh.systems())
    assert graph_document(swapped, everything) == graph_document(fresh, everything)
    assert graph_document(swapped, everything) != graph_document(graph, everything)
    assert graph.runs[where("billing")].run_id == "run-billing"  # the original is unchanged


def test_a_run_of_another_shape_or_a_new_service_is_not_swapped_in() -> None:
    graph = org_graph(factory.SHOP_ORG)
    other_edge = factory.service_artifact({"Billing:api": ["Legacy:api"]}, owner="team.billing")
    other_owner = factory.service_artifact({"Billing:api": ["Orders:api"]}, owner="team.other")
    for artifact in (other_edge, other_owner):
        assert graph.with_run(where("billing"), RunGraph.from_artifact(artifact, "r")) is None
    same = factory.lineage_org(factory.SHOP_ORG)["billing"]
    assert graph.with_run(where("new"), RunGraph.from_artifact(same, "r")) is None
