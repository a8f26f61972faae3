"""Validation cost: the project's validator against parsing the same bytes.

Timed in this process as CPU time, batches interleaved, medians: ``orjson.loads`` of the
envelope bytes, the project's :class:`EnvelopeValidator` (jsonschema-rs) on the parsed
envelope, and the reference ``jsonschema`` library doing the same checks, for comparison.

Alone (``.venv/bin/python benchmarks/validation_cost.py [--rounds 15]``) it times the real
110 KB artifact's envelope several times over: the parse, the project's validator, and
jsonschema-rs deciding the artifact against the form the project decides with (the published
patterns in their faster equivalent forms, ``ingest/equivalent_forms.py``) and against the
published schema (``../shared/schemas-reference``), all interleaved in one run, so the gain is
measured against the published form under the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import orjson
from bodies import FIXTURES, envelope_bytes, real_artifact

from stricture_server.ingest.equivalent_forms import deciding_form
from stricture_server.ingest.validation import EnvelopeValidator, load_schema

PUBLISHED = FIXTURES.parent / "schemas-reference" / "lineage-artifact.schema.json"


@dataclass(frozen=True)
class Cost:
    """Median CPU milliseconds for one body."""

    name: str
    size: int
    parse_ms: float
    validate_ms: float
    reference_ms: float | None

    @property
    def ratio(self) -> float:
        """Validation time over parse time."""
        return self.validate_ms / self.parse_ms


def timed(call: Callable[[], object], *, budget: float, rounds: int) -> float:
    """Median CPU milliseconds per call over ``rounds`` batches of about ``budget`` s each."""
    return paired([call], budget=budget, rounds=rounds)[0]


def paired(calls: list[Callable[[], object]], *, budget: float, rounds: int) -> list[float]:
    """Median CPU milliseconds per call of each, their batches interleaved round by round.

    CPU time of this process, not wall time: on a shared machine another process's burst
    then slows neither figure, and interleaving keeps the two under the same conditions.
    """
    numbers = []
    for call in calls:
        began = time.process_time()
        call()
        once = max(time.process_time() - began, 1e-6)
        numbers.append(max(1, int(budget / once)))
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for call, number, found in zip(calls, numbers, samples, strict=True):
            began = time.process_time()
            for _ in range(number):
                call()
            found.append((time.process_time() - began) / number * 1000)
    return [statistics.median(found) for found in samples]


class _Reference:
    """The reference ``jsonschema`` library checking what EnvelopeValidator checks."""

    def __init__(self) -> None:
        import jsonschema

        def compile_(name: str) -> Any:
            schema = load_schema(name)
            return jsonschema.Draft202012Validator(
                schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
            )

        self.envelope = compile_("envelope")
        self.parts = {name: compile_(name) for name in ("artifact", "diff")}

    def errors(self, document: dict[str, Any]) -> int:
        found = len(list(self.envelope.iter_errors(document)))
        for name, validator in self.parts.items():
            if isinstance(document.get(name), dict):
                found += len(list(validator.iter_errors(document[name])))
        return found


def cost(bodies: dict[str, bytes], *, budget: float, rounds: int, reference: bool) -> list[Cost]:
    """Parse and validation medians for each named envelope body."""
    validator = EnvelopeValidator(strict=True, max_errors=50)
    checker = _Reference() if reference else None
    found = []
    for name, data in bodies.items():
        document = orjson.loads(data)
        problems = validator.problems(document)
        if problems:
            raise SystemExit(f"benchmarks: {name} is not valid: {problems[:3]}")
        parse, check = paired(
            [
                lambda data=data: orjson.loads(data),
                lambda document=document: validator.problems(document),
            ],
            budget=budget,
            rounds=rounds,
        )
        slow = None
        if checker is not None:
            slow = timed(
                lambda document=document: checker.errors(document),
                budget=budget,
                rounds=max(1, rounds // 3),
            )
        found.append(Cost(name, len(data), parse, check, slow))
    return found


def main() -> None:
    """Time the real artifact's parse and validation, the two schema forms side by side."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--budget", type=float, default=0.2, help="seconds per batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs of all the rounds")
    args = parser.parse_args()
    data = envelope_bytes(real_artifact())
    document = orjson.loads(data)
    artifact = document["artifact"]
    validator = EnvelopeValidator(strict=True, max_errors=50)
    project = jsonschema_rs.Draft202012Validator(
        deciding_form(load_schema("artifact")), validate_formats=True
    )
    published = jsonschema_rs.Draft202012Validator(
        orjson.loads(PUBLISHED.read_bytes()), validate_formats=True
    )
    if validator.problems(document) or not project.is_valid(artifact):
        raise SystemExit("benchmarks: the real artifact is not valid")
    print(f"jsonschema-rs {_version('jsonschema_rs')}, {len(data):,} bytes, load {_load()}")
    print(
        "| run | orjson.loads ms | EnvelopeValidator ms | ratio | artifact, deciding form ms "
        "| artifact, published schema ms | deciding / published |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for run in range(args.repeat):
        parse, check, mine, theirs = paired(
            [
                lambda: orjson.loads(data),
                lambda: validator.problems(document),
                lambda: project.is_valid(artifact),
                lambda: published.is_valid(artifact),
            ],
            budget=args.budget,
            rounds=args.rounds,
        )
        print(
            f"| {run + 1} | {parse:.3f} | {check:.3f} | {check / parse:.2f}x | {mine:.3f} "
            f"| {theirs:.3f} | {mine / theirs:.2f}x |"
        )
    print(f"load at the end {_load()}")


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    main()
