"""The results table, and ``docs/performance.md`` written from it."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import coldstart_s3
import worker_load
from servers import ROOT

REAL = "real 110 KB artifact + real diff"


@dataclass
class Results:
    """Everything one run measured."""

    command: str
    plan: Any = None
    bodies: list[tuple[str, int]] = field(default_factory=list)
    validation: list[Any] = field(default_factory=list)
    big: dict[str, Any] = field(default_factory=dict)
    big_body: int = 0
    big_parse_ms: float = 0.0
    starts: list[Any] = field(default_factory=list)
    s3_start: Any = None
    """Lambda import plus first POST with the s3 driver, against its floor (``coldstart_s3.py``)."""
    overheads: list[Any] = field(default_factory=list)
    requests: Any = None
    profiles: list[Any] = field(default_factory=list)
    load: dict[tuple[str, int, str], Any] = field(default_factory=dict)
    slow: Any = None
    worker_load: dict[tuple[int, str], Any] = field(default_factory=dict)
    steps: list[tuple[str, float, float]] = field(default_factory=list)
    """The mandated floor's steps: name, wall ms and CPU ms in process (``mandated.py``)."""


@dataclass(frozen=True)
class Target:
    """One target of the issue, with its measured value."""

    name: str
    goal: str
    measured: str
    met: bool


def _mark(met: bool) -> str:
    return "met" if met else "**missed**"


def targets(r: Results) -> list[Target]:
    """Each target with the value this run measured."""
    found = []
    for clients in r.plan.clients if r.plan else ():
        mandated = r.load.get((REAL, clients, "mandated"))
        real = r.load.get((REAL, clients, "stricture"))
        if not (mandated and real):
            continue
        rps = real.median("rps") / mandated.median("rps")
        p99 = real.median("p99_ms") / mandated.median("p99_ms")
        name = f"110 KB ingest, {clients} clients"
        found.append(
            Target(f"{name}: requests/s", ">= 0.9x mandated floor", f"{rps:.2f}x", rps >= 0.9)
        )
        found.append(Target(f"{name}: p99", "<= 1.25x mandated floor", f"{p99:.2f}x", p99 <= 1.25))
    for cost in r.validation:
        # Issue 16 accepts 0.6-0.7x on the 110 KB artifact (a schema kept unweakened).
        bound = 0.7 if "110 KB" in cost.name else 0.5
        found.append(
            Target(
                f"validation, {cost.name}",
                f"<= {bound}x parse",
                f"{cost.ratio:.2f}x ({cost.validate_ms:.3f} vs {cost.parse_ms:.3f} ms)",
                cost.ratio <= bound,
            )
        )
    big = r.big.get("stricture")
    if big and big.cpu_ms:
        cpu = statistics.median(big.cpu_ms) / r.big_parse_ms
        growth = statistics.median(big.growth_kib) * 1024 / r.big_body
        found.append(
            Target(
                "10 MB ingest: worker CPU",
                "<= 4x parse",
                f"{cpu:.2f}x ({statistics.median(big.cpu_ms):.0f} vs {r.big_parse_ms:.0f} ms)",
                cpu <= 4,
            )
        )
        found.append(
            Target(
                "10 MB ingest: worker peak RSS growth",
                "<= 6x body",
                f"{growth:.2f}x ({statistics.median(big.growth_kib) / 1024:.0f} MiB "
                f"for {r.big_body / 1e6:.1f} MB)",
                growth <= 6,
            )
        )
    if r.s3_start is not None:
        s3 = r.s3_start
        found.append(
            Target(
                "Lambda cold start, s3 driver: import + first POST",
                "<= 1.3x floor",
                f"{s3.ratio:.2f}x ({s3.entry_ms:.0f} vs {s3.floor_ms:.0f} ms)",
                s3.ratio <= 1.3,
            )
        )
    for start in r.starts:
        if "Lambda" in start.entry.name:
            unused = ", ".join(start.unused) or "none"
            found.append(
                Target(
                    "Lambda: modules the fs driver does not use", "none", unused, not start.unused
                )
            )
    if r.slow is not None:
        f = r.slow.attacked.summary()
        worst = max(f["health_max"], f["ingest_max"])
        found.append(
            Target(
                "slow and idle clients: a fresh healthz and 110 KB ingest, slowest answer",
                "< 1 s, none failed",
                f"{worst:.0f} ms, {r.slow.attacked.failures} failed",
                worst < 1000 and r.slow.attacked.failures == 0,
            )
        )
    for clients in sorted({c for c, _ in r.worker_load}):
        ratio = worker_load.ratio(r.worker_load, clients)
        found.append(
            Target(
                f"110 KB ingest, {clients} clients: requests/s against the sync worker",
                ">= 0.95x",
                f"{ratio:.2f}x",
                ratio >= 0.95,
            )
        )
    for cost in r.overheads:
        found.append(
            Target(
                f"adapter overhead, {cost.adapter}",
                "< 100 µs",
                f"{cost.overhead_us:.0f} µs",
                cost.overhead_us < 100,
            )
        )
    return found


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _mandated(r: Results) -> list[str]:
    """The 110 KB body on the floor, the mandated floor and stricture-server, side by side."""
    rows = []
    for clients in r.plan.clients:
        floor, mandated, real = (r.load.get((REAL, clients, n)) for n in SERVERS)
        if not (floor and mandated and real):
            continue
        rps = [x.median("rps") for x in (floor, mandated, real)]
        p99 = [x.median("p99_ms") for x in (floor, mandated, real)]
        cpu = [x.median("server_cpu_ms") for x in (floor, mandated, real)]
        rows.append(
            [
                str(clients),
                " / ".join(f"{x:.0f}" for x in rps),
                f"{rps[1] / rps[0]:.2f}x",
                f"**{rps[2] / rps[1]:.2f}x**",
                " / ".join(_ms(x) for x in p99),
                f"{p99[1] / p99[0]:.2f}x",
                f"{p99[2] / p99[1]:.2f}x",
                " / ".join(f"{x:.2f}" for x in cpu),
            ]
        )
    if not rows:
        return []
    head = [
        "clients",
        "req/s (floor / mandated / server)",
        "mandated / floor",
        "server / mandated",
        "p99 ms (floor / mandated / server)",
        "p99 mandated / floor",
        "p99 server / mandated",
        "worker CPU ms/req (floor / mandated / server)",
    ]
    title = f"### The mandated floor: {REAL} (medians; same runs)"
    return ["", title, "", _table(head, rows), *_steps(r)]


def _steps(r: Results) -> list[str]:
    """What each of the mandated floor's steps costs, in process."""
    if not r.steps:
        return []
    rows = [[name, f"{wall:.2f}", f"{cpu:.2f}"] for name, wall, cpu in r.steps]
    total = sum(cpu for _, _, cpu in r.steps)
    rows.append(["all of them", f"{sum(w for _, w, _ in r.steps):.2f}", f"{total:.2f}"])
    title = (
        f"What each step of the mandated floor costs ({REAL}, in process, fs, medians; "
        "a durable create's wall time is mostly waiting for its fsyncs):"
    )
    return ["", title, "", _table(["step", "wall ms", "CPU ms"], rows)]


SERVERS = ("floor", "mandated", "stricture")


def _slow_clients(r: Results) -> list[str]:
    s = r.slow
    if s is None:
        return []
    attack = s.attack
    parts = [
        "",
        f"### Slow and idle clients ({attack.idle} idle + {attack.slow} sending their head one "
        f"byte a second, each reopened when closed; {s.seconds:g} s; `benchmarks/slowclients.py`)",
        "",
        "A fresh client alternates `GET /healthz` and a 110 KB ingest, each on a new connection; "
        "latencies in ms.",
        "",
    ]
    rows = []
    for label, probes in (("no attack", s.baseline), ("under attack", s.attacked)):
        f = probes.summary()
        rows.append(
            [
                label,
                str(len(probes.health_ms) + len(probes.ingest_ms)),
                str(probes.failures),
                _ms(f["health_p50"]),
                _ms(f["health_max"]),
                _ms(f["ingest_p50"]),
                _ms(f["ingest_max"]),
            ]
        )
    parts.append(
        _table(
            ["", "requests", "failed", "healthz p50", "healthz max", "ingest p50", "ingest max"],
            rows,
        )
    )
    parts += [
        "",
        f"Attack connections opened: {attack.opened}; closed with a JSON 408 at the "
        f"{s.header_timeout} s head deadline: {attack.answered_408}; closed without an answer: "
        f"{attack.closed_silently}; refused: {attack.refused_connect}. Worker memory (RSS, all "
        f"workers): {s.rss_before_kib / 1024:.0f} MiB before the attack, "
        f"{s.rss_peak_kib / 1024:.0f} MiB at most during it.",
    ]
    if r.worker_load:
        parts += [
            "",
            "### Throughput of the worker: stricture-server's worker against gunicorn's sync "
            "worker, same app, 110 KB body (medians; the ratio is the median of the ratios within "
            "each run, the order alternating; `benchmarks/worker_load.py`)",
            "",
        ]
        rows = []
        for clients in sorted({c for c, _ in r.worker_load}):
            sync = r.worker_load[(clients, "stricture-sync")]
            real = r.worker_load[(clients, "stricture")]
            rows.append(
                [
                    str(clients),
                    f"{sync.median('rps'):.1f}",
                    f"{real.median('rps'):.1f}",
                    f"**{worker_load.ratio(r.worker_load, clients):.2f}x**",
                    _ms(sync.median("p99_ms")),
                    _ms(real.median("p99_ms")),
                ]
            )
        parts.append(
            _table(
                ["clients", "sync req/s", "stricture req/s", "ratio", "sync p99", "stricture p99"],
                rows,
            )
        )
    return parts


def render(r: Results) -> str:
    """The result tables, in Markdown."""
    parts = ["### Targets", ""]
    parts.append(
        _table(
            ["target", "goal", "measured", ""],
            [[t.name, t.goal, t.measured, _mark(t.met)] for t in targets(r)],
        )
    )
    if not all(t.met for t in targets(r)):
        parts += [
            "",
            "Each missed target is explained, with its profile and what would close it, "
            "under *Where the time goes* below.",
        ]
    parts += ["", "### Ingest over HTTP (medians; ratios against the floor in the same run)", ""]
    rows = []
    for name, _size in r.bodies:
        for clients in r.plan.clients:
            floor = r.load.get((name, clients, "floor"))
            real = r.load.get((name, clients, "stricture"))
            if not (floor and real):
                continue
            rows.append(
                [
                    name,
                    str(clients),
                    f"{floor.median('rps'):.1f}",
                    f"{real.median('rps'):.1f}",
                    f"**{real.median('rps') / floor.median('rps'):.2f}x**",
                    f"{_ms(floor.median('p50_ms'))} / {_ms(floor.median('p99_ms'))}",
                    f"{_ms(real.median('p50_ms'))} / {_ms(real.median('p99_ms'))}",
                    f"{real.median('p99_ms') / floor.median('p99_ms'):.2f}x",
                    f"{floor.median('server_cpu_ms'):.2f} / {real.median('server_cpu_ms'):.2f}",
                    f"{floor.median('client_cpu'):.2f} / {real.median('client_cpu'):.2f}",
                    str(floor.errors + real.errors),
                ]
            )
    parts.append(
        _table(
            [
                "body",
                "clients",
                "floor req/s",
                "server req/s",
                "ratio",
                "floor p50 / p99 ms",
                "server p50 / p99 ms",
                "p99 ratio",
                "worker CPU ms/req (floor / server)",
                "client CPU (cores)",
                "non-202",
            ],
            rows,
        )
    )
    parts += _mandated(r)
    parts += ["", "### Validation against parsing the same bytes (in process, medians)", ""]
    parts.append(
        _table(
            [
                "body",
                "bytes",
                "orjson.loads ms",
                "EnvelopeValidator ms",
                "ratio",
                "reference jsonschema ms",
                "reference ratio",
            ],
            [
                [
                    c.name,
                    f"{c.size:,}",
                    f"{c.parse_ms:.3f}",
                    f"{c.validate_ms:.3f}",
                    f"**{c.ratio:.2f}x**",
                    f"{c.reference_ms:.1f}" if c.reference_ms else "-",
                    f"{c.reference_ms / c.parse_ms:.0f}x" if c.reference_ms else "-",
                ]
                for c in r.validation
            ],
        )
    )
    parts += [
        "",
        f"### One 10 MB ingest ({r.big_body:,} bytes; one fresh worker; "
        f"orjson.loads of the body: {r.big_parse_ms:.1f} ms)",
        "",
    ]
    rows = []
    for name, big in r.big.items():
        cpu = statistics.median(big.cpu_ms)
        growth = statistics.median(big.growth_kib) * 1024
        rows.append(
            [
                name,
                f"{cpu:.0f}",
                f"{cpu / r.big_parse_ms:.2f}x",
                f"{growth / 2**20:.1f}",
                f"{growth / r.big_body:.2f}x",
                ", ".join(sorted({str(s) for s in big.statuses})),
            ]
        )
    parts.append(
        _table(
            [
                "server",
                "worker CPU ms",
                "CPU / parse",
                "peak RSS growth MiB",
                "growth / body",
                "status",
            ],
            rows,
        )
    )
    parts += ["", "### Cold start (CPU time of fresh interpreters, medians)", ""]
    parts.append(
        _table(
            [
                "entry",
                "import ms",
                "floor ms",
                "ratio",
                "floor",
                "loaded, fs driver never uses",
                "heaviest beyond the floor (self ms)",
                "import ms without the project's .pyc",
            ],
            [
                [
                    s.entry.name,
                    f"{s.entry_ms:.0f}",
                    f"{s.floor_ms:.0f}",
                    f"**{s.ratio:.2f}x**",
                    ", ".join(s.entry.floor),
                    ", ".join(s.unused) or "none",
                    ", ".join(f"{n} {ms}" for n, ms in s.heaviest),
                    f"{s.uncached_ms:.0f}",
                ]
                for s in r.starts
            ],
        )
    )
    if r.s3_start is not None:
        parts += [
            "",
            "### Lambda cold start with the s3 driver (CPU of fresh interpreters, moto server, "
            "medians)",
            "",
            coldstart_s3.render(r.s3_start),
        ]
    if r.overheads:
        parts += ["", "### Adapter overhead per invocation (GET /healthz, medians)", ""]
        parts.append(
            _table(
                ["adapter", "through the adapter µs", "App.handle directly µs", "overhead µs"],
                [
                    [
                        o.adapter,
                        f"{o.adapter_us:.0f}",
                        f"{o.direct_us:.0f}",
                        f"**{o.overhead_us:.0f}**",
                    ]
                    for o in r.overheads
                ],
            )
        )
    if r.requests:
        q = r.requests

        def listed(counts: dict[str, float]) -> str:
            return ", ".join(f"{k} {v:g}" for k, v in sorted(counts.items()))

        parts += ["", "### Storage requests per ingest (s3 driver, moto server over HTTP)", ""]
        parts.append(
            _table(
                ["driver", "ingest", "requests", "by request"],
                [
                    [q.driver, "new run", f"{sum(q.new_run.values()):g}", listed(q.new_run)],
                    [q.driver, "identical replay", f"{sum(q.replay.values()):g}", listed(q.replay)],
                ],
            )
        )
    parts += _slow_clients(r)
    for profile in r.profiles:
        parts += [
            "",
            f"### Hot spots: {profile.body} ({profile.requests} ingests in process, "
            f"{profile.total_ms:.2f} ms each under the profiler)",
            "",
        ]
        parts.append(
            _table(
                ["self time", "function"],
                [[f"{share * 100:.1f}%", name] for name, share in profile.top],
            )
        )
    return "\n".join(parts)


def machine() -> str:
    """A line describing this machine."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) // 1024 // 1024
    fs = subprocess.run(["df", "--output=fstype", str(ROOT)], capture_output=True, text=True)
    fstype = fs.stdout.split()[-1] if fs.returncode == 0 else "?"
    return (
        f"{os.cpu_count()} x {model}, {memory} GiB RAM, Linux {platform.release()}, "
        f"{fstype} on a virtual disk, Python {platform.python_version()}"
    )


BEGIN = "<!-- generated by benchmarks/run: begin -->"
END = "<!-- generated by benchmarks/run: end -->"


def generated(r: Results) -> str:
    """The generated part of the page: how, where and when it was measured, and the tables."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    plan = r.plan
    return (
        f"Measured by `{r.command}` on {machine()}, {now}: {plan.workers} workers for "
        f"each server (gunicorn's sync workers for the floor, stricture-server's own with its "
        f"default threads for the server and the mandated floor), {plan.runs} runs of "
        f"{plan.seconds:g} s per figure (medians).\n\n" + render(r)
    )


def write(r: Results, target: Path) -> None:
    """Replace the generated part of ``target``, keeping everything written around it."""
    block = f"{BEGIN}\n{generated(r)}\n{END}"
    if target.exists() and BEGIN in (text := target.read_text()) and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        page = head + block + tail
    else:
        page = f"# Performance\n\n{block}\n"
    target.write_text(page)
