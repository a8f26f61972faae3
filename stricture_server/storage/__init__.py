"""Storage drivers behind one port, chosen by ``STRICTURE_SERVER_STORAGE_DRIVER``."""

from __future__ import annotations

from ..errors import BucketMissing, StorageUnavailable
from ..settings import PREFIX, ConfigError, Settings
from .base import Renewing, Replicating, Storage, exists

OBJECT_DRIVERS = ("s3", "r2", "mirror")
"""The drivers that need botocore, installed by the ``s3`` extra."""


def require_sdk(settings: Settings) -> None:
    """Refuse, as a configuration error, an object-store driver whose SDK cannot be imported."""
    if settings.storage_driver not in OBJECT_DRIVERS:
        return
    try:
        import botocore.session  # noqa: F401
    except ImportError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{PREFIX}STORAGE_DRIVER={settings.storage_driver!r} needs botocore, which cannot be "
            f"imported ({detail}); install the s3 extra: pip install '.[s3]'"
        ) from None


def check_object_store(settings: Settings) -> None:
    """At start in process mode: refuse a bucket that does not exist or cannot be reached.

    Bounded by the store's timeouts and attempts. The ``mirror`` driver is refused only for a
    bucket the store says does not exist: it is meant to start and ingest during an outage.
    """
    require_sdk(settings)
    if settings.storage_driver not in OBJECT_DRIVERS:
        return
    from .s3 import open_object_storage

    store = open_object_storage(settings, settings.mirror_target or settings.storage_driver)
    bucket = f"{PREFIX}OBJECT_BUCKET={settings.object_bucket!r}"
    try:
        store.probe(f"{settings.object_prefix}/" if settings.object_prefix else "")
    except BucketMissing as exc:
        raise ConfigError(f"{bucket}: no such bucket ({exc.reason})") from None
    except StorageUnavailable as exc:
        if settings.storage_driver != "mirror":
            reason = " ".join(exc.reason.split())
            raise ConfigError(f"{bucket}: the object store cannot be used: {reason}") from None
    finally:
        # The master process forks the workers: leave them no open connection of its own.
        store.client.close()


def open_storage(settings: Settings) -> Storage:
    """The driver the settings name. Drivers are imported here so no unused SDK is loaded."""
    require_sdk(settings)
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


__all__ = [
    "OBJECT_DRIVERS",
    "Renewing",
    "Replicating",
    "Storage",
    "check_object_store",
    "exists",
    "open_storage",
    "require_sdk",
]
