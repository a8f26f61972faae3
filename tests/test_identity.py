"""Sanitising identities and generating run ids."""

from __future__ import annotations

import re
import unicodedata

import pytest

from stricture_server.runstore.identity import new_run_id, sanitize


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  ACME, Inc ", "acme-inc"),
        ("  ACME, Inc  ", "acme-inc"),
        ("../../etc", "etc"),
        ("a__b--c", "a-b-c"),
        ("run%2F7", "run-2f7"),
        ("---", ""),
        ("", ""),
        ("0196a1b2-c3d4", "0196a1b2-c3d4"),
        # Non-ASCII characters that are no letter, digit or mark only separate words.
        ("acme\u00a0inc", "acme-inc"),
        ("acme — inc", "acme-inc"),
        ("acme\u2019s team", "acme-s-team"),
        ("team 🚀 api", "team-api"),
        ("ac\u200bme", "ac-me"),
        ("line\nbreak\x00", "line-break"),
    ],
)
def test_sanitize(raw: str, clean: str) -> None:
    assert sanitize(raw) == clean


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("Σacme", "Σ"),
        ("日本acme", "日本"),
        ("\u212aey", "\u212a"),  # the Kelvin sign: lower() makes it an ASCII k
        ("caf\u00e9", "\u00e9"),  # NFC
        ("cafe\u0301", "\u0301"),  # NFD: a combining mark after an ASCII e
        ("Ünïcode Team", "Üï"),
        ("\uff46\uff55\uff4c\uff4cwidth", "\uff46\uff55\uff4c"),  # fullwidth "full"
        ("v²", "²"),
        ("٣", "٣"),  # an Arabic-Indic digit
        ("\u0130stanbul", "\u0130"),  # lower() makes it "i" and a combining dot
        ("x\u0301", "\u0301"),  # a mark with no composed form
    ],
)
def test_a_letter_digit_or_mark_outside_ascii_is_refused_by_name(raw: str, named: str) -> None:
    with pytest.raises(ValueError, match="names take only ASCII letters and digits") as caught:
        sanitize(raw)
    assert f"holds {named!r}" in str(caught.value)


NAMES = [
    "acme",
    "ACME",
    "  ACME, Inc  ",
    "acme inc",
    "acmeinc",
    "Σacme",
    "日本acme",
    "Σ acme",
    "\u212aey",
    "key",
    "Key",
    "café",
    "cafe\u0301",
    "cafe",
    "caf",
    "caf é",
    "naïve",
    "naive",
    "\uff21\uff23\uff2d\uff25",  # fullwidth ACME
    "a-b",
    "a b",
    "ab",
    "a1",
    "a¹",
    "\u00a0acme\u00a0",
    "acme\u200d",
]


def _expected_key(name: str) -> str | None:
    """The key a name must have: its runs of letters and digits, lower-cased, joined by
    ``-``; None (refused) when one of them, or a combining mark, is not ASCII."""
    runs = re.findall(r"[^\W_]+", name)
    marks = [ch for ch in name if unicodedata.category(ch).startswith("M")]
    if marks or not all(run.isascii() for run in runs):
        return None
    return "-".join(run.lower() for run in runs)


def test_a_key_is_the_names_letters_and_digits_so_different_names_never_share_one() -> None:
    keys: dict[str, str] = {}
    for name in NAMES:
        expected = _expected_key(name)
        if expected is None:
            with pytest.raises(ValueError, match="names take only"):
                sanitize(name)
        else:
            keys[name] = sanitize(name)
            assert keys[name] == expected, name
    # A key is "-".join of [a-z0-9] runs, which tells every sequence of runs apart: names
    # share a key exactly when their letters and digits are the same, up to case.
    assert sorted(keys) != sorted(NAMES)  # the table holds refused names too
    assert len(set(keys.values())) < len(keys)  # and names that rightly share a key


def test_run_ids_are_unique_sortable_and_already_clean() -> None:
    ids = [new_run_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(sanitize(i) == i for i in ids)
