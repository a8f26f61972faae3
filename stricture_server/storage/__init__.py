"""Storage drivers behind one port, chosen by ``STRICTURE_SERVER_STORAGE_DRIVER``."""

from __future__ import annotations

from ..settings import Settings
from .base import Replicating, Storage


def open_storage(settings: Settings) -> Storage:
    """The driver the settings name. Drivers are imported here so no unused SDK is loaded."""
    if settings.storage_driver == "fs":
        from .fs import FileStorage

        return FileStorage(settings.data_dir)
    if settings.storage_driver in ("s3", "r2"):
        from .s3 import open_object_storage

        return open_object_storage(settings, settings.storage_driver)
    if settings.storage_driver == "mirror":
        from .mirror import open_mirror_storage

        return open_mirror_storage(settings)
    raise ValueError(f"storage driver {settings.storage_driver!r} is not available")


__all__ = ["Replicating", "Storage", "open_storage"]
