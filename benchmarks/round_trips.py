"""Where a new run's wall time goes, round trip by round trip, from what the proxy saw.

The proxy stamps each request when it arrives and when it is answered, and times the store
(moto) on its own; the benchmark stamps the client's send and the answer. The same wall clock
serves every process on the machine, so the phases below add up to the ingest's wall time.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from latency_proxy import Seen


@dataclass(frozen=True)
class Timed:
    """One ingest: when the client sent it and had its answer, and the requests it caused."""

    began: float
    ended: float
    seen: list[Seen]


PHASES = (
    "client's send to the claim's arrival at the proxy (server: read, validate, digest)",
    "the claim at the proxy: the delay, then moto",
    "... of which moto",
    "claim answered to the last request of the next round arriving (server CPU; a blast "
    "radius also waits for the reads sent with the claim)",
    "last request arrived to the last answer: the delay, then moto serving the round",
    "... of which moto, for the request answered last",
    "last answer to the client's answer (server)",
)


def phases(ingest: Timed) -> list[float]:
    """The seconds of each of :data:`PHASES` in one ingest."""
    rows = sorted(ingest.seen, key=lambda s: s.arrived)
    claim = rows[0]
    # Reads sent with the claim arrive before it is answered: they are not the next round.
    after = [r for r in rows[1:] if r.arrived >= claim.answered] or [claim]
    last_sent = max(r.arrived for r in after)
    last = max(after, key=lambda r: r.answered)
    return [
        claim.arrived - ingest.began,
        claim.answered - claim.arrived,
        claim.store_seconds,
        last_sent - claim.answered,
        last.answered - last_sent,
        last.store_seconds,
        ingest.ended - last.answered,
    ]


def breakdown(label: str, servers: list[tuple[str, list[Timed]]]) -> list[str]:
    """A markdown table: each phase's median (ms) per server, for the ingests of ``label``."""
    names = " | ".join(name for name, _ in servers)
    lines = [
        f"Where a {label} goes (medians of each phase, ms):",
        "",
        f"| phase | {names} |",
        "|---|" + "---:|" * len(servers),
    ]
    columns = [[phases(ingest) for ingest in ingests] for _, ingests in servers]
    for i, phase in enumerate(PHASES):
        cells = " | ".join(
            f"{statistics.median(row[i] for row in rows) * 1000:.1f}" for rows in columns
        )
        lines.append(f"| {phase} | {cells} |")
    return lines
