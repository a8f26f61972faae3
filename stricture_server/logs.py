"""Structured logging: one JSON object per line on stdout."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

ACCESS = "stricture_server.request"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, message, and its ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line."""
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(level: str) -> None:
    """Send the project's loggers to stdout as JSON lines, once per process."""
    root = logging.getLogger("stricture_server")
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
