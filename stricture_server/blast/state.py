"""The org graph's inputs: the latest ``RunGraph`` of every service, merged from feed entries.

Merging keeps, per service, the run with the greatest ``(time_ms, run_id)``, the same order as
``latest`` in the read API. The merge is idempotent and order-free: applying a feed entry twice,
or entries in any order, gives the same state. That is what lets readers re-apply the feed
entries just before a snapshot's watermark (the clock-skew margin) without harm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import LineageObjectInvalid
from ..lineage.edges import RunGraph
from ..lineage.graph import Location


@dataclass(frozen=True, slots=True)
class Latest:
    """A service's latest run as the graph knows it."""

    time_ms: int
    run_id: str
    graph: RunGraph


def entry_bytes(location: Location, time_ms: int, graph: RunGraph) -> bytes:
    """A feed entry: the run's ``RunGraph`` with its service and time."""
    head = orjson.dumps(
        {
            "organization": location.organization,
            "project": location.project,
            "service": location.service,
            "run_id": graph.run_id,
            "time_ms": time_ms,
        }
    )
    # The RunGraph's own bytes are spliced in rather than parsed and serialised again.
    return head[:-1] + b',"graph":' + graph.to_json() + b"}"


def parse_entry(document: Any) -> tuple[Location, Latest]:
    """The service and run of a parsed feed entry; :class:`LineageObjectInvalid` if malformed."""
    try:
        location = Location(document["organization"], document["project"], document["service"])
        time_ms = document["time_ms"]
        graph = RunGraph.from_document(document["graph"])
    except (KeyError, TypeError) as exc:
        raise LineageObjectInvalid(f"not a lineage feed entry: {exc!r}") from None
    names = (location.organization, location.project, location.service)
    if not isinstance(time_ms, int) or not all(isinstance(n, str) for n in names):
        raise LineageObjectInvalid("not a lineage feed entry: bad service or time")
    return location, Latest(time_ms, graph.run_id, graph)


def merge(state: dict[Location, Latest], location: Location, latest: Latest) -> bool:
    """Keep ``latest`` for ``location`` if it is newer than what ``state`` has; whether it was."""
    known = state.get(location)
    if known is not None and (known.time_ms, known.run_id) >= (latest.time_ms, latest.run_id):
        return False
    state[location] = latest
    return True


def snapshot_bytes(watermark_ms: int, state: Mapping[Location, Latest]) -> bytes:
    """A snapshot: every service's latest run, as of feed entries written up to the watermark."""
    entries = [entry_bytes(loc, latest.time_ms, latest.graph) for loc, latest in state.items()]
    head = orjson.dumps({"watermark_ms": watermark_ms})
    return head[:-1] + b',"services":[' + b",".join(entries) + b"]}"


def parse_snapshot(data: bytes) -> tuple[int, dict[Location, Latest]]:
    """The watermark and state a snapshot holds; :class:`LineageObjectInvalid` if malformed."""
    try:
        document = orjson.loads(data)
        watermark = document["watermark_ms"]
        services: Iterable[Any] = document["services"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise LineageObjectInvalid(f"not a lineage snapshot: {exc!r}") from None
    if not isinstance(watermark, int) or not isinstance(services, list):
        raise LineageObjectInvalid("not a lineage snapshot: bad watermark or services")
    state: dict[Location, Latest] = {}
    for item in services:
        merge(state, *parse_entry(item))
    return watermark, state
