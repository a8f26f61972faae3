"""The documentation keeps up with the code."""

from __future__ import annotations

import re
from pathlib import Path

from stricture_server.settings import KNOWN_VARIABLES

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `(STRICTURE_SERVER_[A-Z0-9_]+)` \|", text, re.MULTILINE))
    assert set(KNOWN_VARIABLES) - documented == set(), "undocumented settings"
    assert documented - set(KNOWN_VARIABLES) == set(), "documented settings the server ignores"
