"""Storage drivers behind one port, chosen by ``STRICTURE_SERVER_STORAGE_DRIVER``."""

from __future__ import annotations

from ..settings import Settings
from .base import Storage


def open_storage(settings: Settings) -> Storage:
    """The driver the settings name. Drivers are imported here so no unused SDK is loaded."""
    if settings.storage_driver == "fs":
        from .fs import FileStorage

        return FileStorage(settings.data_dir)
    raise ValueError(f"storage driver {settings.storage_driver!r} is not available")


__all__ = ["Storage", "open_storage"]
