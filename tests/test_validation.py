"""Schema checks, on the project's own data and on the real corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from stricture_server.validation import EnvelopeValidator

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


def test_a_missing_corpus_says_where_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"\.\./shared/fixtures next to the checkout"):
        factory.shared_fixture("lineage-diff-small.json", corpus=tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=str(tmp_path)):
        factory.shared_fixture("lineage-diff-small.json", corpus=tmp_path)
