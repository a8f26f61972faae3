"""The org-wide change feed, ``GET /v1/changes/{org}``, through every delivery.

The shop org's services share one run id and some share one time, so the order across
services, and a cursor landing between two services' runs of the same time, are exercised.
"""

from __future__ import annotations

from typing import Any

from . import factory
from .deliveries import Deployment
from .test_blast import PROJECT, get, ingest_org
from .test_conformance import ingest
from .test_lineage_impact import change, diff

APRIL_2 = "2026-04-02T00:00:00Z"


def shop_with_changes(deployment: Deployment) -> str:
    """The shop org with three runs that have diffs, in two projects; its name."""
    org = factory.unique("feed")
    # platform/orders r1 (April 2nd): a change others read, and one of an unknown system.
    ingest_org(
        deployment, org, diff=diff(change("Orders:api"), change("Nobody:api")), generated_at=APRIL_2
    )
    later = [
        # platform/billing r2 (April 3rd): shipping reads billing.
        (PROJECT, "billing", "r2", "2026-04-03T00:00:00Z", diff(change("Billing:api"))),
        # edge/orders r1: the same run id and time as platform/orders r1, received later.
        ("edge", "orders", "r1", APRIL_2, diff(change("Nobody:api", field_id="f_y"))),
    ]
    artifacts = factory.lineage_org(factory.SHOP_ORG)
    for project, service, run_id, when, changes in later:
        document = factory.envelope(
            organization=org,
            project=project,
            service=service,
            run_id=run_id,
            generated_at=when,
            artifact=artifacts.get(service, factory.artifact()),
            diff=changes,
        )
        assert ingest(deployment, document).status == 202
    return org


def positions(items: list[dict[str, Any]]) -> list[tuple[str, str, int, str | None]]:
    return [(c["location"], c["run_id"], c["index"], c["impact"]) for c in items]


def test_the_org_feed_merges_every_service_newest_first_and_pages(deployment: Deployment) -> None:
    org = shop_with_changes(deployment)
    base = f"/v1/artifacts/{org}"
    expected = [
        (f"{base}/{PROJECT}/billing/r2", "r2", 0, "downstream"),
        (f"{base}/edge/orders/r1", "r1", 0, "unknown"),
        (f"{base}/{PROJECT}/orders/r1", "r1", 0, "downstream"),
        (f"{base}/{PROJECT}/orders/r1", "r1", 1, "unknown"),
    ]
    whole = get(deployment, f"/v1/changes/{org.upper()}")
    assert (whole["organization"], whole["next_cursor"]) == (org, None)
    assert positions(whole["changes"]) == expected
    assert whole["changes"][0]["change"]["impact"]["service"] == "Billing:api"
    for limit in (1, 3):
        walked, cursor = [], ""
        while cursor is not None:
            page = get(
                deployment, f"/v1/changes/{org}?limit={limit}{cursor and '&cursor=' + cursor}"
            )
            assert len(page["changes"]) <= limit
            walked += page["changes"]
            cursor = page["next_cursor"]
        assert walked == whole["changes"]


def test_the_org_feed_takes_the_service_feed_filters(deployment: Deployment) -> None:
    org = shop_with_changes(deployment)

    def found(query: str) -> list[tuple[str, int, str | None]]:
        page = get(deployment, f"/v1/changes/{org}?{query}")
        return [(c["location"].split("/", 4)[4], c["index"], c["impact"]) for c in page["changes"]]

    downstream = [
        (f"{PROJECT}/billing/r2", 0, "downstream"),
        (f"{PROJECT}/orders/r1", 0, "downstream"),
    ]
    assert found("impact=downstream") == downstream
    assert found("impact=unknown&limit=1&to=2026-04-02") == [("edge/orders/r1", 0, "unknown")]
    assert found("from=2026-04-03") == [(f"{PROJECT}/billing/r2", 0, "downstream")]
    assert found("severity=low") == []
    assert found("change_type=field_removed&impact=self_only") == []
