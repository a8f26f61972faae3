"""The org lineage graph at scale: assembling it, and one run's blast radius.

Generates an org of ``--services`` services (default 500) of ``--systems`` systems each
(default 40: 20,000 in all), each system reading ``--reads`` upstreams (default 5: 100,000
edges, plus the root edges they give). Services sit in ten tiers; a system reads systems of
lower tiers only (tier 0 reads external providers), as an org's APIs build on its platforms.
Then, in this process, CPU time medians of:

- deriving one service's ``RunGraph`` from its artifact, and its JSON form; the same for the
  ingest benchmarks' bodies (the real 110 KB artifact and the 10 MB one made from it) when
  ../shared/fixtures is there;
- reading the 500 per-run JSON objects back and assembling the org graph from them;
- classifying a 300-change diff at depth 8 of a middle-tier service and of a tier-0 one (the
  most upstream): every change's blast radius, owners and contacts, and the run summary.

    .venv/bin/python benchmarks/graph.py
    .venv/bin/python benchmarks/graph.py --services 50 --rounds 3     # a quick look

Prints a Markdown table (docs/performance.md, "Lineage graph").
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from typing import Any

import orjson
from bodies import ARTIFACT, large_artifact, real_artifact
from validation_cost import timed

from stricture_server.lineage.edges import RunGraph
from stricture_server.lineage.graph import Location, OrgGraph
from stricture_server.lineage.impact import RunImpact, classify_run
from stricture_server.lineage.registry import Registry

TIERS = 10
VENDORS = 50


def system(service: int, n: int) -> str:
    """The ``n``-th system of a service, spelt as an artifact would."""
    return f"Svc{service:03d}:component-{n:02d}"


def artifact(service: int, options: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """One service's latest artifact: a field per (system, upstream) it reads."""
    per_tier = max(1, options.services // TIERS)
    tier = min(service // per_tier, TIERS - 1)
    below = tier * per_tier
    fields = []
    for n in range(options.systems):
        for r in range(options.reads):
            if below:
                upstream = system(rng.randrange(below), rng.randrange(options.systems))
            else:
                upstream = f"vendor{rng.randrange(VENDORS):02d}:api"
            fields.append(
                {
                    "field_id": f"f_{n:02d}_{r}",
                    "source_system": system(service, n),
                    "owner": f"team.svc{service:03d}",
                    "escalation": f"pagerduty:svc{service:03d}",
                    "sources": [
                        {
                            "kind": "api",
                            "target": "Upstream.Get",
                            "scope": "internal",
                            "upstream_system": upstream,
                        }
                    ],
                }
            )
    return {"schema_version": "1", "fields": fields}


def cpu_ms(call: Callable[[], object], rounds: int) -> float:
    """Median CPU milliseconds per call over ``rounds`` batches (of one call when it is slow)."""
    return timed(call, budget=0.05, rounds=rounds)


def diff_of(systems: list[str], changes: int) -> dict[str, Any]:
    """A lineage-diff of ``changes`` high changes, spread over ``systems``."""
    items = [
        {
            "severity": "high",
            "change_type": "field_removed",
            "field_id": f"f_{i % 100:02d}_0",
            "message": "Field was removed from lineage artifact",
            "impact": {"service": systems[i % len(systems)], "api": f"f_{i:03d}"},
        }
        for i in range(changes)
    ]
    summary = {"total": changes, "high": changes, "medium": 0, "low": 0, "info": 0}
    return {"summary": summary, "changes": items}


def registry(options: argparse.Namespace) -> Registry:
    """A registry naming every tenth service's root, each in a flow of level 1 to 3."""
    flows = [
        {"id": f"flow-{level}", "name": f"Flow {level}", "level": level} for level in (1, 2, 3)
    ]
    systems = [
        {
            "id": f"Svc{s:03d}",
            "name": f"Service {s}",
            "owner_team": f"team.svc{s:03d}",
            "flows": [f"flow-{1 + s % 3}"],
            "escalation": [{"role": "primary", "channel": f"pagerduty:svc{s:03d}"}],
        }
        for s in range(0, options.services, 10)
    ]
    return Registry.parse({"strict:flows": flows, "systems": systems})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--systems", type=int, default=40, help="systems per service")
    parser.add_argument("--reads", type=int, default=5, help="upstreams each system reads")
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    rng = random.Random(12)
    artifacts = [artifact(s, options, rng) for s in range(options.services)]
    locations = [Location("acme", f"p{s % 20:02d}", f"svc{s:03d}") for s in range(options.services)]
    rows: list[tuple[str, float, str]] = []

    middle = options.services // 2
    derive = cpu_ms(lambda: RunGraph.from_artifact(artifacts[middle], "run"), options.rounds * 4)
    one = RunGraph.from_artifact(artifacts[middle], "run")
    size = len(one.to_json())
    rows.append(
        (
            f"derive one service's RunGraph ({len(artifacts[middle]['fields'])} fields)",
            derive,
            f"{size:,} bytes of JSON",
        )
    )
    if ARTIFACT.is_file():
        # What ingest will add: the per-run object of the bodies the ingest benchmarks send.
        for name, data in (("real 110 KB", real_artifact()), ("10 MB", large_artifact())):
            parsed = orjson.loads(data)
            derive = cpu_ms(
                lambda parsed=parsed: RunGraph.from_artifact(parsed, "run").to_json(),
                options.rounds * (20 if len(data) < 1_000_000 else 1),
            )
            parse = cpu_ms(lambda data=data: orjson.loads(data), options.rounds)
            made = len(RunGraph.from_artifact(parsed, "run").to_json())
            rows.append(
                (
                    f"derive and serialise the {name} artifact's RunGraph",
                    derive,
                    f"{made:,} bytes (orjson.loads of the artifact: {parse:.1f} ms)",
                )
            )

    stored = [RunGraph.from_artifact(a, f"run-{s}").to_json() for s, a in enumerate(artifacts)]
    total = sum(len(data) for data in stored)

    def assemble() -> OrgGraph:
        return OrgGraph(
            {loc: RunGraph.from_json(d) for loc, d in zip(locations, stored, strict=True)}
        )

    read = cpu_ms(lambda: [RunGraph.from_json(d) for d in stored], options.rounds)
    build = cpu_ms(assemble, options.rounds)
    graph = assemble()
    declared = sum(len(RunGraph.from_json(d).systems) for d in stored)
    rows.append((f"read the {options.services} per-run objects back", read, f"{total:,} bytes"))
    rows.append(
        (
            "read them and assemble the org graph",
            build,
            f"{declared:,} declared systems, {len(graph.systems()):,} in all, "
            f"{graph.edge_count():,} edges (roots included)",
        )
    )

    known = registry(options)
    per_tier = max(1, options.services // TIERS)
    # A middle-tier service, and a tier-0 one: the most upstream, the widest blast radius.
    for service in (middle, 0):
        mine = [system(service, n).lower() for n in range(options.systems)]
        diff = diff_of(mine, options.changes)
        own = locations[service]

        def classify(diff: dict[str, Any] = diff, own: Location = own) -> RunImpact:
            return classify_run(diff, graph, own, registry=known, depth=options.depth)

        spent = cpu_ms(classify, options.rounds)
        result = classify()
        reached = sum(len(c.impacted) for c in result.changes)
        flow = result.highest_flow.id if result.highest_flow else None
        rows.append(
            (
                f"classify a {options.changes}-change diff at depth {options.depth} "
                f"({len(mine)} systems of a tier-{service // per_tier} service)",
                spent,
                f"{reached:,} impacted entries, {len(result.impacted_services)} services, "
                f"highest flow {flow}",
            )
        )

    print(
        f"{options.services} services x {options.systems} systems x {options.reads} reads; "
        f"CPU time medians of {options.rounds} runs\n"
    )
    print("| step | median ms | size |")
    print("|---|---:|---|")
    for name, ms, note in rows:
        print(f"| {name} | {ms:.1f} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
