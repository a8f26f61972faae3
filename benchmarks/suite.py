"""Run every benchmark, print the table, write ``docs/performance.md``.

Usage: ``bash benchmarks/run [--smoke]``. ``--smoke`` runs each benchmark once, briefly, to
check the suite works (seconds, not minutes); its figures are not for the docs, so it writes
``benchmarks/.work/performance-smoke.md`` instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import coldstart
import coldstart_s3
import hotspots
import ingest
import orjson
import platforms
import report
import slowclients
import validation_cost
import worker_load
from bodies import bodies, envelope_bytes, large_artifact, real_artifact
from servers import HERE, ROOT, python

WORK = Path(__file__).resolve().parent / ".work"


@dataclass(frozen=True)
class Plan:
    """How long and how often: the full run or the smoke run."""

    smoke: bool
    workers: int = 5
    clients: tuple[int, ...] = (1, 4, 16)
    runs: int = 3
    seconds: float = 4.0
    big_samples: int = 3
    import_runs: int = 11
    budget: float = 0.2
    rounds: int = 9
    profile_requests: int = 200

    @classmethod
    def make(cls, smoke: bool) -> Plan:
        """The plan for this run."""
        if not smoke:
            return cls(smoke=False)
        return cls(
            smoke=True,
            runs=1,
            seconds=0.5,
            big_samples=1,
            import_runs=2,
            budget=0.02,
            rounds=3,
            profile_requests=10,
        )


def main() -> None:
    """Run the suite."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="everything once, briefly")
    parser.add_argument("--command", default="bash benchmarks/run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    plan = Plan.make(args.smoke)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    (WORK / ".gitignore").write_text("*\n")
    try:
        _run(plan, args.command)
    finally:
        # Everything the servers stored, removed only now: see servers.start.
        for data in WORK.glob("*data*"):
            shutil.rmtree(data, ignore_errors=True)


def _run(plan: Plan, command: str) -> None:

    all_bodies = bodies()
    small, real, large = all_bodies
    results = report.Results(command=command + (" --smoke" if plan.smoke else ""))
    results.plan = plan

    print("validation cost...", flush=True)
    results.validation = validation_cost.cost(
        {
            "real artifact (110 KB)": envelope_bytes(real_artifact()),
            "10 MB artifact": envelope_bytes(large_artifact()),
        },
        budget=plan.budget,
        rounds=plan.rounds,
        reference=not plan.smoke,
    )
    print("large ingest: CPU and memory...", flush=True)
    results.big = ingest.big_ingest(large, small, WORK, samples=plan.big_samples)
    results.big_body = large.size
    results.big_parse_ms = validation_cost.timed(
        lambda: orjson.loads(large.template), budget=plan.budget * 5, rounds=plan.rounds
    )
    print("cold start...", flush=True)
    results.starts = coldstart.measure(WORK, runs=plan.import_runs)
    results.s3_start = coldstart_s3.measure(WORK / "coldstart-s3", runs=plan.import_runs)
    print("adapter overhead...", flush=True)
    results.overheads = platforms.overhead(WORK, budget=plan.budget, rounds=plan.rounds)
    print("storage requests per ingest...", flush=True)
    results.requests = platforms.storage_requests(small, ingests=3 if plan.smoke else 20)
    print("profile...", flush=True)
    results.profiles = [
        hotspots.profile(real, WORK, requests=plan.profile_requests),
        hotspots.profile(large, WORK, requests=max(2, plan.profile_requests // 20)),
    ]
    print("mandated floor, step by step...", flush=True)
    results.steps = mandated_steps(20 if plan.smoke else 200)
    print("throughput...", flush=True)
    results.load = ingest.throughput(
        all_bodies,
        WORK,
        workers=plan.workers,
        clients=plan.clients,
        runs=plan.runs,
        seconds=plan.seconds,
        mandated_for=real.name,
    )
    print("slow and idle clients...", flush=True)
    results.slow = slowclients.measure(
        WORK,
        real,
        server="stricture",
        idle=2000,
        slow=100,
        seconds=4.0 if plan.smoke else 30.0,
        workers=plan.workers,
    )
    results.worker_load = worker_load.throughput(
        WORK, real, workers=plan.workers, clients=plan.clients, runs=plan.runs, seconds=plan.seconds
    )
    results.bodies = [(b.name, b.size) for b in all_bodies]
    text = report.render(results)
    print(text)
    target = WORK / "performance-smoke.md" if plan.smoke else ROOT / "docs" / "performance.md"
    report.write(results, target)
    print(f"written: {target.relative_to(ROOT)}")


def mandated_steps(runs: int) -> list[tuple[str, float, float]]:
    """What each step of the mandated floor costs, from ``mandated.py`` in a process of its own."""
    data = WORK / "data-mandated-steps"
    data.mkdir(parents=True, exist_ok=True)
    command = [python(), str(HERE / "mandated.py"), str(runs), "--json"]
    env = {**os.environ, "FLOOR_DATA_DIR": str(data)}
    done = subprocess.run(command, env=env, cwd=HERE, capture_output=True, check=True)
    return [tuple(row) for row in orjson.loads(done.stdout)]  # type: ignore[misc]


if __name__ == "__main__":
    main()
