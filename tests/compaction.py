"""A generated history for the compaction tests: runs spread over days, some received late."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from stricture_server.blast import keys as blast_keys
from stricture_server.compact.build import Compactor
from stricture_server.reads.query import Queries
from stricture_server.runstore.entries import day_of, to_ms
from stricture_server.runstore.index import Index, RunFacts
from stricture_server.runstore.records import normalize
from stricture_server.runstore.runs import RunStore, format_time
from stricture_server.storage import Storage

PREFIX = "p"
ORG, PROJECT, SERVICE = "acme", "checkout", "api"
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
GRACE_MS = 3_600_000
TYPES = ("field_removed", "source_version_changed", "field_added")
RARE = {"change_type": "field_renamed", "field_id": "f_rare", "message": "renamed"}


@dataclass
class Clock:
    """A clock the test moves, in milliseconds since 0001-01-01 UTC."""

    now_ms: int = 0

    def __call__(self) -> int:
        return self.now_ms

    def set(self, moment: datetime) -> None:
        """Move to ``moment``."""
        self.now_ms = to_ms(moment)


@dataclass
class History:
    """Runs of one service stored through the index, and the two ways of reading them."""

    storage: Storage
    clock: Clock = field(default_factory=Clock)
    rng: random.Random = field(default_factory=lambda: random.Random(16))
    count: int = 0
    rare_every: int = 0
    """Every ``rare_every``-th run also has a change of type ``RARE`` (0: none has)."""

    def __post_init__(self) -> None:
        self.runs = RunStore(self.storage, PREFIX)
        self.index = Index(self.storage, PREFIX)
        self.compactor = Compactor(self.storage, PREFIX, GRACE_MS, self.clock)

    def add(
        self,
        time: datetime,
        received: datetime,
        org: str = ORG,
        service: tuple[str, str] = (PROJECT, SERVICE),
    ) -> None:
        """One run at ``time`` received at ``received``, with a random diff and blast radius."""
        self.count += 1
        rng = self.rng
        changes = [
            {
                "severity": rng.choice(("high", "medium", "low", "info")),
                "change_type": rng.choice(TYPES),
                "field_id": f"f_{i}",
                "message": "changed",
            }
            for i in range(rng.choice((0, 1, 2, 3, 5)))
        ]
        if self.rare_every and self.count % self.rare_every == 0:
            # A type few runs have: a filter on it is sparse (see test_rollup.py).
            severity = rng.choice(("high", "low"))
            changes.insert(rng.randrange(len(changes) + 1), {"severity": severity, **RARE})
        document: dict[str, Any] = {
            "organization": org,
            "project": service[0],
            "service": service[1],
            "run_id": f"run-{self.count:04d}",
            "generated_at": time.isoformat(),
            "artifact": {"schema_version": "1", "fields": []},
        }
        if changes or rng.random() < 0.5:
            document["diff"] = {"summary": {"total": len(changes)}, "changes": changes}
        record = normalize(document, received)
        self.runs.create(record, received)
        facts = RunFacts.from_fields(record.identity, document, format_time(received))
        self.index.add(facts)
        if changes and rng.random() < 0.7:
            impacts = [{"impact": rng.choice(("downstream", "self_only"))} for _ in changes]
            key = record.identity.payload_key(PREFIX, day_of(facts.summary.time_ms))
            body = orjson.dumps({"changes": impacts})
            self.storage.create(blast_keys.beside(key, blast_keys.BLAST_RADIUS), body)

    def spread(
        self,
        first: int,
        days: int,
        per_day: int,
        late_every: int = 5,
        services: Sequence[tuple[str, str]] = ((PROJECT, SERVICE),),
    ) -> None:
        """``per_day`` runs a day from day ``first`` for ``days`` days, each of one of
        ``services`` (project, service); every ``late_every``-th received the next day, the
        others seconds after their time."""
        for day in range(first, first + days):
            for n in range(per_day):
                time = DAY0 + timedelta(days=day, seconds=(n * 86_400) // per_day + 7)
                late = self.count % late_every == 0
                received = time + timedelta(hours=30 if late else 0, seconds=3)
                self.add(time, received, service=services[self.count % len(services)])

    def queries(self, compacted: bool) -> Queries:
        """The read API with or without compacts."""
        return Queries(self.runs, self.compactor if compacted else None)


FILTERS: tuple[dict[str, str], ...] = (
    {},
    {"severity": "high"},
    {"severity": "low,info"},
    {"change_type": "field_added"},
    {"change_type": "nope"},
    {"impact": "downstream"},
    {"severity": "medium", "impact": "self_only"},
    {"from": "2026-03-02", "to": "2026-03-04"},
    {"to": "2026-03-03", "change_type": "source_version_changed"},
)
"""Every filter the change feed takes, alone and together."""


def pages(queries: Queries, args: dict[str, str], limit: int = 7) -> Iterator[dict[str, Any]]:
    """Every page of the service's change feed, following ``next_cursor``."""
    query = {key: [value] for key, value in args.items()} | {"limit": [str(limit)]}
    while True:
        page = queries.changes_of(ORG, PROJECT, SERVICE, query)
        yield page
        if not page["next_cursor"]:
            return
        query["cursor"] = [page["next_cursor"]]
