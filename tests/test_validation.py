"""Schema checks, on the project's own data and on the real corpus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from stricture_server.ingest.validation import COUNT_LIMIT, MESSAGE_LIMIT, EnvelopeValidator

from . import factory

STRICT = EnvelopeValidator(strict=True, max_errors=50)
RELAXED = EnvelopeValidator(strict=False, max_errors=50)


def load(name: str) -> Any:
    return orjson.loads(factory.shared_fixture(name).read_bytes())


@pytest.mark.parametrize(
    "name", ["lineage-artifact-baseline.json", "lineage-artifact-current.json"]
)
def test_real_artifacts_pass(name: str) -> None:
    assert STRICT.problems(factory.envelope(artifact=load(name))) == []


@pytest.mark.parametrize(
    "name", ["lineage-diff-baseline-to-current.json", "lineage-diff-small.json"]
)
def test_real_diffs_pass(name: str) -> None:
    assert STRICT.problems(factory.envelope(diff=load(name))) == []


def test_factory_data_passes() -> None:
    assert (
        STRICT.problems(factory.envelope(artifact=factory.artifact(20), diff=factory.diff(9))) == []
    )


def test_every_violation_is_listed_with_its_pointer() -> None:
    artifact = factory.artifact(3)
    artifact["fields"][0]["owner"] = "BAD OWNER"
    artifact["fields"][2]["sources"] = []
    del artifact["fields"][1]["note"]
    problems = STRICT.problems(factory.envelope(artifact=artifact, extra=True))
    paths = [p.path for p in problems]
    assert "/artifact/fields/0/owner" in paths
    assert "/artifact/fields/1" in paths
    assert "/artifact/fields/2/sources" in paths
    assert "" in paths  # the unknown top-level field
    assert all(p.message for p in problems)


def test_pointer_escapes_special_characters() -> None:
    problems = STRICT.problems(factory.envelope(metadata={"a/b~c": 1}))
    assert [p.path for p in problems] == ["/metadata/a~1b~0c"]


def test_errors_are_capped() -> None:
    artifact = factory.artifact(30)
    for field in artifact["fields"]:
        field["owner"] = "X"
    assert (
        len(
            EnvelopeValidator(strict=True, max_errors=7).problems(
                factory.envelope(artifact=artifact)
            )
        )
        == 7
    )


def test_relaxed_mode_accepts_any_object_but_still_checks_the_envelope() -> None:
    odd = {"schema_version": "99", "whatever": [1, 2]}
    assert RELAXED.problems(factory.envelope(artifact=odd, diff={"x": 1})) == []
    assert [p.path for p in RELAXED.problems(factory.envelope(artifact=[1]))] == ["/artifact"]
    assert STRICT.problems(factory.envelope(artifact=odd)) != []


def test_a_long_value_is_echoed_cut_short() -> None:
    problems = STRICT.problems(factory.envelope(organization="x" * 9_000_000))
    (problem,) = problems
    assert problem.path == "/organization"
    assert len(problem.message) <= MESSAGE_LIMIT
    assert "..." in problem.message
    assert problem.message.endswith("is too long")


def test_an_oversized_metadata_object_is_not_repeated() -> None:
    metadata = {f"key-{n:04d}": "v" * 1000 for n in range(200)}
    (problem,) = STRICT.problems(factory.envelope(metadata=metadata))
    assert problem.path == "/metadata"
    assert len(problem.message) <= MESSAGE_LIMIT
    assert problem.message.count("key-") <= 5


def test_millions_of_violations_are_counted_up_to_the_limit() -> None:
    # 18 required properties missing from each of 100,000 empty fields: 1.8 million.
    artifact = {"schema_version": "1", "fields": [{}] * 100_000}
    found = EnvelopeValidator(strict=True, max_errors=7).findings(
        factory.envelope(artifact=artifact)
    )
    assert len(found.listed) == 7
    assert found.listed[0].path == "/artifact/fields/0"
    assert (found.omitted, found.complete) == (COUNT_LIMIT - 7, False)


def test_a_few_violations_are_counted_exactly() -> None:
    artifact = factory.artifact(30)
    for field in artifact["fields"]:
        field["owner"] = "X"
    found = EnvelopeValidator(strict=True, max_errors=7).findings(
        factory.envelope(artifact=artifact)
    )
    assert (len(found.listed), found.omitted, found.complete) == (7, 23, True)


def test_a_check_only_the_deciding_validator_makes_is_still_reported() -> None:
    # The reference library has no "uri" checker installed; jsonschema-rs has.
    artifact = {**factory.artifact(), "systems": [{"id": "orders", "runbook_url": "not a uri"}]}
    problems = STRICT.problems(factory.envelope(artifact=artifact))
    assert [p.path for p in problems] == ["/artifact/systems/0/runbook_url"]
    assert problems[0].message == "'not a uri' is not a \"uri\""


def test_the_listing_library_is_imported_on_the_first_invalid_body_only() -> None:
    script = (
        "import sys\n"
        "from stricture_server.ingest.validation import EnvelopeValidator\n"
        "from tests import factory\n"
        "checks = EnvelopeValidator(strict=True, max_errors=5)\n"
        "assert checks.problems(factory.envelope()) == []\n"
        "print('jsonschema' in sys.modules)\n"
        "assert checks.problems(factory.envelope(organization=1))\n"
        "print('jsonschema' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True, cwd=root)
    assert done.stdout.split() == [b"False", b"True"]


def test_a_missing_corpus_says_where_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"\.\./shared/fixtures next to the checkout"):
        factory.shared_fixture("lineage-diff-small.json", corpus=tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=str(tmp_path)):
        factory.shared_fixture("lineage-diff-small.json", corpus=tmp_path)
