"""Test data: schema-valid lineage artifacts, diffs and envelopes of any size."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def field(index: int) -> dict[str, Any]:
    """One annotated field, valid against the lineage artifact schema."""
    name = f"response_orders_field_{index:06d}"
    return {
        "annotation_schema_version": "1",
        "field_id": name,
        "field": f"response.orders.field_{index:06d}",
        "source_system": "OrdersGateway",
        "source_version": "v2026.01",
        "min_supported_source_version": "v2026.01",
        "transform_type": "passthrough",
        "merge_strategy": "single_source",
        "break_policy": "strict",
        "confidence": "declared",
        "data_classification": "internal",
        "owner": "team.orders",
        "escalation": "pagerduty:orders-oncall",
        "contract_test_id": f"ci://contracts/orders/field_{index:06d}",
        "introduced_at": "2026-02-15",
        "sources": [
            {
                "kind": "api",
                "target": "OrdersCore.GetOrder",
                "path": f"response.field_{index:06d}",
                "scope": "internal",
                "contract_ref": "git https://example.com/orders//openapi.yaml@r01",
                "raw": f"api:OrdersCore.GetOrder#response.field_{index:06d}@internal",
            }
        ],
        "flow": "from @OrdersCore enriched @OrdersGateway",
        "note": "Generated for tests.",
    }


def artifact(fields: int = 1) -> dict[str, Any]:
    """A lineage-export artifact with ``fields`` annotated fields."""
    return {"schema_version": "1", "fields": [field(i) for i in range(fields)]}


def diff(changes: int = 2) -> dict[str, Any]:
    """A lineage-diff report with ``changes`` changes, alternating high and medium."""
    items = [
        {
            "severity": "high" if i % 2 == 0 else "medium",
            "change_type": "field_removed" if i % 2 == 0 else "source_version_changed",
            "field_id": f"response_orders_field_{i:06d}",
            "message": "Field was removed from lineage artifact",
            "source": {"service": "OrdersGateway", "api": f"response.orders.field_{i:06d}"},
        }
        for i in range(changes)
    ]
    high = sum(1 for c in items if c["severity"] == "high")
    summary = {"total": changes, "high": high, "medium": changes - high, "low": 0, "info": 0}
    return {"summary": summary, "changes": items}


def unique(name: str) -> str:
    """A name no other test uses, so tests can share one server."""
    return f"{name}-{uuid.uuid4().hex[:12]}"


def envelope(**overrides: Any) -> dict[str, Any]:
    """An ingest envelope with a fresh organization, valid unless overridden."""
    body: dict[str, Any] = {
        "organization": unique("org"),
        "project": "checkout",
        "service": "api",
        "artifact": artifact(),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


CORPUS_MISSING = (
    "real corpus not found in {where}: the real-corpus tests read the project's shared fixtures "
    "from ../shared/fixtures next to the checkout; put them there to run these tests "
    "(skipped without them; with CI set, failed)"
)
"""What a real-corpus test says when the corpus is absent."""


def shared_fixture(name: str, corpus: Path = SHARED_FIXTURES) -> Path:
    """The real corpus file ``name`` from ../shared/fixtures.

    The corpus lives outside the repository. Where it is absent the test is skipped with a
    message saying where it goes, except in CI (``CI`` set), which always has it: there it is a
    failure.
    """
    path = corpus / name
    if not path.is_file():
        message = CORPUS_MISSING.format(where=corpus)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


HOSTILE_REQUEST_IDS = [
    "ci-123\n",  # a final newline: "$" in a regex matches before it
    "ci\r\nX-Injected: 1",
    "ci\x00",
    "ci\x01\x7f",
    "ci\t1",
    "日本",  # not latin-1: no HTTP/1.1 header can hold it, a function event can
    "ci-é",
    "ci\u2028",
    "x" * 129,
    "",
]
"""``X-Request-Id`` values the app must replace with its own id, never echo or fail on."""


# Multi-service orgs for the lineage graph. A spec maps each service to the systems its
# artifact declares and, for each, the upstream systems it reads from.
OrgSpec = dict[str, dict[str, list[str]]]


def lineage_source(
    *,
    upstream: str | None = None,
    kind: str = "api",
    target: str = "Upstream.GetValue",
    scope: str = "internal",
    provider: str | None = None,
) -> dict[str, Any]:
    """One source of a field, valid against the artifact schema; names what it is given."""
    source: dict[str, Any] = {
        "kind": kind,
        "target": target,
        "path": "response.value",
        "scope": scope,
        "contract_ref": "internal://contracts/value",
        "raw": f"{kind}:{target}#response.value@{scope}",
    }
    if upstream is not None:
        source["upstream_system"] = upstream
    if provider is not None:
        source["provider_id"] = provider
        source["as_of"] = "2026-02-10"
    return source


def lineage_field(
    field_id: str,
    system: str,
    *sources: dict[str, Any],
    owner: str = "team.orders",
    escalation: str = "pagerduty:orders-oncall",
) -> dict[str, Any]:
    """A field of ``system`` reading from ``sources``, valid against the artifact schema."""
    return {
        **field(0),
        "field_id": field_id,
        "field": f"response.{field_id}",
        "source_system": system,
        "owner": owner,
        "escalation": escalation,
        "sources": list(sources),
    }


def _slug(system: str) -> str:
    return system.lower().replace(":", "_").replace("-", "_")


def service_artifact(
    systems: dict[str, list[str]], *, owner: str = "team.orders"
) -> dict[str, Any]:
    """An artifact declaring each system of ``systems``: one field per upstream it reads
    (through ``upstream_system``), or one field reading a local table when it reads none."""
    team = owner.removeprefix("team.")
    fields = []
    for system, upstreams in systems.items():
        mine = {"owner": owner, "escalation": f"pagerduty:{team}-oncall"}
        if not upstreams:
            local = lineage_source(kind="db", target="local_table")
            fields.append(lineage_field(f"{_slug(system)}_own", system, local, **mine))
        for upstream in upstreams:
            source = lineage_source(upstream=upstream)
            name = f"{_slug(system)}_from_{_slug(upstream)}"
            fields.append(lineage_field(name, system, source, **mine))
    return {"schema_version": "1", "fields": fields}


def lineage_org(spec: OrgSpec) -> dict[str, dict[str, Any]]:
    """The latest artifact of each service of ``spec``, each service its own team."""
    return {name: service_artifact(systems, owner=f"team.{name}") for name, systems in spec.items()}


def chain_org(length: int) -> OrgSpec:
    """Services ``s0``..: the system ``s{i}:api`` of each reads from the one before it."""
    return {f"s{i}": {f"s{i}:api": [f"s{i - 1}:api"] if i else []} for i in range(length)}


CYCLE_ORG: OrgSpec = {
    "alpha": {"alpha:api": ["gamma:api"]},
    "beta": {"beta:api": ["alpha:api"]},
    "gamma": {"gamma:api": ["beta:api"]},
}
"""Three services reading from each other in a ring: every walk must end."""

SHOP_ORG: OrgSpec = {
    # A producer with a subsystem of its own that consumes it, and two consumer services,
    # one of which is also consumed by a third.
    "orders": {"Orders:api": ["Inventory:api"], "Orders:worker": ["Orders:api"]},
    "billing": {"Billing:api": ["Orders:api"]},
    "shipping": {"Shipping:worker": ["Orders:api", "Billing:api"]},
    "reports": {"Reports:batch": ["Shipping:worker"]},
    "inventory": {"Inventory:api": []},
}
"""A small shop: orders reads inventory; billing and shipping read orders; reports reads
shipping. Root edges follow (``billing`` -> ``orders``...)."""
