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
