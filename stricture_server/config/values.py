"""Values every part of the configuration shares: its error and the secret wrapper."""

from __future__ import annotations

from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A setting is missing or has a bad value; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that never shows in ``repr``, logs or error messages."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__
