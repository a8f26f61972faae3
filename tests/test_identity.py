"""Sanitising identities and generating run ids."""

from __future__ import annotations

import pytest

from stricture_server.identity import new_run_id, sanitize


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  ACME, Inc ", "acme-inc"),
        ("../../etc", "etc"),
        ("a__b--c", "a-b-c"),
        ("Ünïcode Team", "n-code-team"),
        ("run%2F7", "run-2f7"),
        ("---", ""),
        ("", ""),
        ("0196a1b2-c3d4", "0196a1b2-c3d4"),
    ],
)
def test_sanitize(raw: str, clean: str) -> None:
    assert sanitize(raw) == clean


def test_run_ids_are_unique_sortable_and_already_clean() -> None:
    ids = [new_run_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(sanitize(i) == i for i in ids)
