"""The alerting of one server, built from its settings: the ingest step and the deliverer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..settings import Settings
from ..storage import Storage

if TYPE_CHECKING:
    from .deliver import Deliverer
    from .raising import RunAlerts
    from .rules import AlertsConfig


def alerts_config(settings: Settings) -> AlertsConfig:
    """The parsed ``alerts`` section; :class:`ConfigError` for what the schema cannot see."""
    from .rules import parse_alerts

    section = settings.config.section("alerts")
    return parse_alerts(section, allow_loopback=settings.alert_allow_loopback)


def run_alerts(settings: Settings, storage: Storage, prefix: str) -> RunAlerts | None:
    """The ingest's alert step; ``None`` (nothing imported) without an ``alerts`` section."""
    if not settings.config.section("alerts"):
        return None
    from .outbox import AlertOutbox
    from .raising import RunAlerts

    config = alerts_config(settings)
    return RunAlerts(config, AlertOutbox(storage, prefix)) if config.organizations else None


def deliverer(settings: Settings, storage: Storage, prefix: str) -> Deliverer | None:
    """The deliverer of the configured organizations' alerts; ``None`` without any."""
    config = alerts_config(settings)
    if not config.organizations:
        return None
    from .deliver import Deliverer, Policy
    from .outbox import AlertOutbox
    from .transport import Transport

    policy = Policy(
        schedule=settings.alert_retry_seconds,
        total_seconds=settings.alert_delivery_total_seconds,
        send_timeout_seconds=settings.alert_send_timeout_seconds,
    )
    transport = Transport(
        allow_loopback=settings.alert_allow_loopback,
        timeout_seconds=settings.alert_send_timeout_seconds,
    )
    return Deliverer(
        config,
        AlertOutbox(storage, prefix),
        transport,
        policy,
        poll_seconds=settings.alert_poll_seconds,
    )
