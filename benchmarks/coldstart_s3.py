"""Lambda cold start with the store functions really use: import plus first POST, s3 driver.

Each sample is a fresh interpreter that imports the Lambda entry
(``adapters/aws_lambda/handler.py``, which builds the app with the ``s3`` driver at import) and
answers one ``POST /v1/artifacts`` (the small envelope, in an API Gateway HTTP API event)
through mangum, against moto's S3 server over real HTTP. Its floor is the same runtime doing
the least a function storing the body can: import boto3 and mangum, create an S3 client, and
answer the same event through mangum with one ``PutObject`` of the body (``If-None-Match: *``).

Figures are CPU time of the child (not wall time: the machine is shared), medians of fresh
processes, with bytecode cached as a build that ships ``.pyc`` does. Entry and floor run in
pairs, one right after the other, which one first alternating from pair to pair; the ratio is
the median of the ratios within each pair, so a busy moment of the machine, which weighs on
both of a pair, moves it less than it moves either figure. Run: ``.venv/bin/python
benchmarks/coldstart_s3.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
from bodies import bodies
from moto_bucket import FAKE_AWS, moto_bucket
from platforms import _http_api_event
from servers import ROOT, python

WORK = Path(__file__).resolve().parent / ".work"

_PRELUDE = """
import json, sys, time
event = json.loads(open({event!r}, "rb").read())
class Context:
    function_name = "stricture"
    aws_request_id = "coldstart"
    memory_limit_in_mb = 1024
began = time.process_time()
"""

_ENTRY = """
sys.path.insert(0, {path!r})
import handler
imported = time.process_time()
answer = handler.handler(event, Context())
"""

_FLOOR = """
import boto3
from mangum import Mangum
client = boto3.client("s3")
async def app(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    client.put_object(Bucket={bucket!r}, Key="floor/" + str(time.time_ns()), Body=body,
                      IfNoneMatch="*", ContentType="application/json")
    await send({{"type": "http.response.start", "status": 202,
                "headers": [(b"content-type", b"application/json")]}})
    await send({{"type": "http.response.body", "body": b'{{"accepted":true}}'}})
handler = Mangum(app, lifespan="off")
imported = time.process_time()
answer = handler(event, Context())
"""

_REPORT = """
done = time.process_time()
print(json.dumps({"status": answer["statusCode"], "import_ms": (imported - began) * 1000,
                  "total_ms": (done - began) * 1000}))
"""


@dataclass(frozen=True)
class S3Start:
    """Medians of import plus first POST, entry and floor, in milliseconds of CPU."""

    runs: int
    entry_ms: float
    entry_import_ms: float
    floor_ms: float
    floor_import_ms: float
    ratio: float
    """Entry over floor: the median of the ratios within each pair."""
    import_ratio: float
    """The same for the import alone."""
    baseline_ms: float = 0.0
    """``--baseline``: that revision's entry, import plus first POST."""
    baseline_ratio: float = 0.0
    """``--baseline``: that revision's entry over the floor, median of the rounds' ratios."""


def _child(code: str, env: dict[str, str], cwd: Path = ROOT) -> dict[str, float]:
    command = [python(), "-c", code]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmarks: cold start child failed: {done.stderr.decode()[-2000:]}")
    result: dict[str, float] = orjson.loads(done.stdout.splitlines()[-1])
    if result["status"] != 202:
        raise SystemExit(f"benchmarks: cold start answered {result['status']}")
    return result


def measure(work: Path, *, runs: int, baseline: str = "") -> S3Start:
    """Alternate ``runs`` fresh entry and floor processes against one moto server."""
    work.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, tuple[str, Path]] = {
        "entry": (_ENTRY.format(path=str(ROOT / "adapters" / "aws_lambda")), ROOT),
    }
    if baseline:
        tree = _tree_of(baseline, work)
        kinds["baseline"] = (_ENTRY.format(path=str(tree / "adapters" / "aws_lambda")), tree)
    with moto_bucket("coldstart") as (endpoint, bucket):
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRICTURE_SERVER_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            FAKE_AWS,
            AWS_ENDPOINT_URL_S3=endpoint,
            STRICTURE_SERVER_STORAGE_DRIVER="s3",
            STRICTURE_SERVER_OBJECT_BUCKET=bucket,
            STRICTURE_SERVER_LOG_LEVEL="warning",
            # Bytecode cached, as in a package built with .pyc: written by the warm-up run.
            PYTHONPYCACHEPREFIX=str(work / "pycache"),
        )
        small = bodies(large=False)[0]
        kinds["floor"] = (_FLOOR.format(bucket=bucket), ROOT)
        samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
        for number in range(runs + 1):
            event = _http_api_event("/v1/artifacts")
            event["requestContext"]["http"]["method"] = "POST"
            event["headers"]["content-type"] = "application/json"
            event["body"] = small.with_run_id(f"coldstart-{uuid.uuid4().hex}").decode()
            path = work / "coldstart-event.json"
            path.write_bytes(orjson.dumps(event))
            prelude = _PRELUDE.format(event=str(path))
            # In rounds, the order rotating, so a busy moment of the machine hits all alike;
            # the first round warms up.
            order = list(kinds)[number % len(kinds) :] + list(kinds)[: number % len(kinds)]
            for kind in order:
                code, cwd = kinds[kind]
                result = _child(prelude + code + _REPORT, env, cwd)
                if number:
                    samples[kind].append(result)

    def median(kind: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[kind])

    def paired(key: str, kind: str = "entry") -> float:
        pairs = zip(samples[kind], samples["floor"], strict=True)
        return statistics.median(entry[key] / floor[key] for entry, floor in pairs)

    return S3Start(
        runs,
        median("entry", "total_ms"),
        median("entry", "import_ms"),
        median("floor", "total_ms"),
        median("floor", "import_ms"),
        paired("total_ms"),
        paired("import_ms"),
        median("baseline", "total_ms") if baseline else 0.0,
        paired("total_ms", "baseline") if baseline else 0.0,
    )


def _tree_of(revision: str, work: Path) -> Path:
    """The package and the Lambda entry as of ``revision``, extracted under ``work``."""
    tree = work / f"tree-{revision.replace('/', '_')}"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", revision, "stricture_server", "adapters/aws_lambda"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def render(start: S3Start) -> str:
    """The result as a Markdown table."""
    return "\n".join(
        [
            "| | import ms | import + first POST ms |",
            "|---|---|---|",
            f"| Lambda entry, s3 driver | {start.entry_import_ms:.0f} | {start.entry_ms:.0f} |",
            f"| floor: boto3 client + mangum + one PUT | {start.floor_import_ms:.0f} "
            f"| {start.floor_ms:.0f} |",
            f"| ratio (median of the pairs' ratios) | {start.import_ratio:.2f}x "
            f"| **{start.ratio:.2f}x** |",
        ]
    )


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11, help="fresh processes of each kind")
    parser.add_argument("--baseline", default="", help="also this git revision's entry")
    args = parser.parse_args()
    start = measure(WORK / "coldstart-s3", runs=args.runs, baseline=args.baseline)
    print(f"{start.runs} runs of each, medians of CPU time")
    print(render(start))
    if args.baseline:
        print(
            f"| {args.baseline}: Lambda entry, s3 driver | | {start.baseline_ms:.0f} "
            f"(**{start.baseline_ratio:.2f}x** the floor) |"
        )


if __name__ == "__main__":
    main()
