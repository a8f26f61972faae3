"""Settings: read once from a mapping (normally ``os.environ``), validated, then injected."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .config.file import ServerConfig, load_config
from .config.values import ConfigError as ConfigError
from .config.values import Secret as Secret

PREFIX = "STRICTURE_SERVER_"

STORAGE_DRIVERS = ("fs", "s3", "r2", "mirror")
AVAILABLE_STORAGE_DRIVERS = ("fs", "s3", "r2", "mirror")
MIRROR_TARGETS = ("s3", "r2")
AUTH_MODES = ("none", "token", "policy")
VALIDATION_MODES = ("schema", "object")
LOG_LEVELS = ("debug", "info", "warning", "error")
METRICS_MODES = ("off", "public", "token")

T = TypeVar("T")

# The default value limit: one JSON value per this many bytes of the body cap. Parsed and
# stored, a value costs a worker up to about 210 bytes on top of about 3.5 times the body's
# own size, so at one per 48 bytes the worst body stays under 8 times the cap (7.7x measured,
# docs/performance.md). The real corpus holds one value per 56 bytes.
BYTES_PER_VALUE = 48

# S3 bucket naming rules (R2 follows them too): 3 to 63 of a-z 0-9 . -, letter or digit at ends.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# A Cloudflare account id goes into a host name: allow one DNS label, nothing else.
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def _default_workers() -> int:
    # gunicorn's rule of thumb: ingest is I/O bound (fsync), so two per core plus one.
    return 2 * (os.cpu_count() or 1) + 1


def _parse_addr(raw: str) -> tuple[str, int]:
    host, sep, port_text = raw.rpartition(":")
    if not sep:
        raise ValueError("expected host:port or :port")
    host = host.strip("[]") or "0.0.0.0"
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError("port out of range")
    return host, port


def _positive_int(raw: str) -> int:
    value = int(raw.strip())
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw.strip())
    if value < 0:
        raise ValueError("must be 0 or a positive integer")
    return value


MAX_LINEAGE_DEPTH = 64
"""The deepest walk a request or the lineage depth setting may ask for."""


def _seconds(raw: str) -> float:
    value = float(raw.strip())
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be a number of seconds, 0 or more")
    return value


def _positive_seconds(raw: str) -> float:
    value = _seconds(raw)
    if value <= 0:
        raise ValueError("must be more than 0 seconds")
    return value


def _schedule(raw: str) -> tuple[float, ...]:
    values = tuple(_seconds(part) for part in raw.split(",") if part.strip())
    if not values:
        raise ValueError("expected seconds separated by commas")
    return values


DEFAULT_ALERT_RETRY = "5,300,1800,7200,18000,36000,36000"


def _depth(raw: str) -> int:
    value = _positive_int(raw)
    if value > MAX_LINEAGE_DEPTH:
        raise ValueError(f"must be at most {MAX_LINEAGE_DEPTH}")
    return value


def _seal_period(raw: str) -> int:
    value = _positive_int(raw)
    # Periods that tile a UTC day: every process, whatever its start, seals the same periods.
    if value < 60 or 86400 % value:
        raise ValueError("must be at least 60 and divide a day (86400 seconds)")
    return value


def _bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _base_path(raw: str) -> str:
    # A path prefix such as "/prod" or "/lineage/v2"; "" and "/" mean none.
    path = raw.strip().strip("/")
    if not path:
        return ""
    if any(c in path for c in "?#%\\") or any(c.isspace() for c in path) or "//" in path:
        raise ValueError("expected a path prefix such as /prod")
    return f"/{path}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the app needs, built once at start by :meth:`from_env`."""

    host: str = "0.0.0.0"
    port: int = 8085
    data_dir: str = ".stricture-server-data"
    storage_driver: str = "fs"
    object_bucket: str = ""
    object_prefix: str = "stricture"
    auth_mode: str = "none"
    ingest_tokens: tuple[Secret, ...] = ()
    max_body_bytes: int = 10 * 1024 * 1024
    validation: str = "schema"
    max_errors: int = 50
    workers: int = field(default_factory=_default_workers)
    threads: int = 2
    max_connections: int = 1000
    keepalive_seconds: int = 5
    timeout_seconds: int = 60
    header_timeout_seconds: int = 10
    read_timeout_seconds: int = 30
    log_level: str = "info"
    api_base_path: str = ""
    allow_ephemeral_storage: bool = False
    r2_account_id: str = ""
    object_endpoint: str = ""
    """Endpoint of the object store; empty: the SDK's default for the region."""
    object_connect_timeout: int = 2
    object_read_timeout: int = 10
    object_max_attempts: int = 3
    mirror_target: str = ""
    mirror_retry_max_seconds: int = 60
    max_json_values: int = 10 * 1024 * 1024 // BYTES_PER_VALUE
    """Most JSON values one body may hold; by default one per 48 bytes of the body cap."""
    object_deadline_seconds: int = 10
    """Most seconds one object-store call may take, whatever the store does."""
    object_cooldown_seconds: int = 5
    """Seconds the object store is not asked after failing several calls in a row."""
    lineage_depth: int = 8
    """How many hops a blast radius, escalation chain or graph view walks by default."""
    lineage_snapshot_every: int = 200
    """Feed entries a process applies before it writes a new snapshot of an org graph."""
    lineage_skew_seconds: int = 10
    """How far before the newest applied entry readers list the feed again: half for clock
    differences between processes, half for write delays (writers re-append a later entry)."""
    lineage_ingest_reach: int = 5000
    """Most systems a diff's blast radius may reach (summed over its changed systems) to be
    computed at ingest; a larger one is computed on its first read."""
    lineage_ingest_fresh_ms: int = 0
    compact_grace_seconds: int = 3600
    """How long after the end of a UTC day its compact may be made (docs/compaction.md)."""
    """How old this process's last listing of an org's feed may be for an ingest's blast
    radius to use the graph without listing it again."""
    metrics: str = "off"
    metrics_tokens: tuple[Secret, ...] = ()
    metrics_host: str = ""
    metrics_port: int = 0
    """Process mode: a second listen address that alone serves ``/metrics``; 0: none."""
    audit_seal_seconds: int = 3600
    """The audit trail's seal period: each log gets one seal per period that had events."""
    config: ServerConfig = field(default_factory=ServerConfig)
    """The configuration file (alert rules, access policy), validated at start."""
    alert_allow_loopback: bool = False
    """Tests only: alerts may go to plain http on loopback addresses."""
    alert_retry_seconds: tuple[float, ...] = tuple(float(s) for s in DEFAULT_ALERT_RETRY.split(","))
    """Seconds before each retry of an alert; after the last, it is dead."""
    alert_delivery_total_seconds: float = 86400.0
    """How long an alert is retried before it is dead."""
    alert_send_timeout_seconds: float = 15.0
    """Most seconds one delivery attempt may take, connection to answer."""
    alert_poll_seconds: float = 5.0
    """Process mode: seconds between two passes of a worker's deliverer."""

    @property
    def metrics_addr(self) -> str:
        """The metrics listen address as gunicorn takes it; empty when there is none."""
        if not self.metrics_port:
            return ""
        host = f"[{self.metrics_host}]" if ":" in self.metrics_host else self.metrics_host
        return f"{host}:{self.metrics_port}"

    @property
    def addr(self) -> str:
        """The listen address as gunicorn takes it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build and validate settings from ``STRICTURE_SERVER_*`` variables."""
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in KNOWN_VARIABLES)
        if unknown:
            raise ConfigError(
                f"{unknown[0]}: unknown setting (known: {', '.join(KNOWN_VARIABLES)})"
            )
        reader = _Reader(env)
        host, port = reader.get("ADDR", ":8085", _parse_addr)
        driver = reader.choice("STORAGE_DRIVER", "fs", STORAGE_DRIVERS)
        if driver not in AVAILABLE_STORAGE_DRIVERS:
            raise ConfigError(
                f"{PREFIX}STORAGE_DRIVER={driver!r}: the {driver} driver is not available yet; "
                f"available: {', '.join(AVAILABLE_STORAGE_DRIVERS)}"
            )
        tokens = _tokens(env, "INGEST_TOKEN")
        config = _config_file(env)
        auth_mode = _auth_mode(reader, tokens, has_access=config.section("access") is not None)
        if auth_mode == "policy":
            # Parsed now only to refuse at start what the schema cannot say (issuer addresses).
            from .access.settings import AccessSettings

            AccessSettings.from_section(config.section("access"))
        if auth_mode == "token" and not tokens:
            raise ConfigError(
                f"{PREFIX}AUTH_MODE='token' needs {PREFIX}INGEST_TOKEN "
                "(one token, or several separated by commas)"
            )
        if auth_mode == "none" and tokens:
            # A token nobody checks is most likely a mistake that leaves the server open.
            raise ConfigError(
                f"{PREFIX}AUTH_MODE='none' with {PREFIX}INGEST_TOKEN set: the token would not "
                f"be checked; remove {PREFIX}AUTH_MODE (or set it to token) to require it, or "
                f"unset {PREFIX}INGEST_TOKEN to run without authentication"
            )
        data_dir = reader.get("DATA_DIR", ".stricture-server-data", str)
        if not data_dir.strip():
            raise ConfigError(f"{PREFIX}DATA_DIR='': must not be empty")
        prefix = reader.get("OBJECT_PREFIX", "stricture", lambda s: s.strip().strip("/"))
        objects = _object_store(env, reader, driver)
        timeout = reader.get("TIMEOUT_SECONDS", "60", _positive_int)
        read_timeout = reader.get("READ_TIMEOUT_SECONDS", "30", _positive_int)
        if read_timeout >= timeout:
            raise ConfigError(
                f"{PREFIX}READ_TIMEOUT_SECONDS={read_timeout!r}: must be less than "
                f"{PREFIX}TIMEOUT_SECONDS ({timeout}), so a stalled client is answered before "
                "its worker is replaced"
            )
        if driver != "fs" and objects["object_deadline_seconds"] >= timeout:
            raise ConfigError(
                f"{PREFIX}OBJECT_DEADLINE_SECONDS={objects['object_deadline_seconds']!r}: must "
                f"be less than {PREFIX}TIMEOUT_SECONDS ({timeout}), so a silent object store "
                "is answered 503 before the worker is replaced"
            )
        threads = reader.get("THREADS", "2", _positive_int)
        max_connections = reader.get("MAX_CONNECTIONS", "1000", _positive_int)
        if max_connections <= threads:
            raise ConfigError(
                f"{PREFIX}MAX_CONNECTIONS={max_connections!r}: must be more than "
                f"{PREFIX}THREADS ({threads}), so idle connections can wait without a thread"
            )
        max_body = reader.get("MAX_BODY_BYTES", "10485760", _positive_int)
        default_values = max(1, max_body // BYTES_PER_VALUE)
        return cls(
            host=host,
            port=port,
            data_dir=data_dir,
            storage_driver=driver,
            object_prefix=prefix,
            auth_mode=auth_mode,
            ingest_tokens=tokens,
            max_body_bytes=max_body,
            validation=reader.choice("VALIDATION", "schema", VALIDATION_MODES),
            max_errors=reader.get("MAX_ERRORS", "50", _positive_int),
            workers=reader.get("WORKERS", str(_default_workers()), _positive_int),
            threads=threads,
            max_connections=max_connections,
            keepalive_seconds=reader.get("KEEPALIVE_SECONDS", "5", _positive_int),
            timeout_seconds=timeout,
            header_timeout_seconds=reader.get("HEADER_TIMEOUT_SECONDS", "10", _positive_int),
            read_timeout_seconds=read_timeout,
            log_level=reader.choice("LOG_LEVEL", "info", LOG_LEVELS),
            api_base_path=reader.get("API_BASE_PATH", "", _base_path),
            allow_ephemeral_storage=reader.get("ALLOW_EPHEMERAL_STORAGE", "false", _bool),
            max_json_values=reader.get("MAX_JSON_VALUES", str(default_values), _positive_int),
            lineage_depth=reader.get("LINEAGE_DEPTH", "8", _depth),
            lineage_snapshot_every=reader.get("LINEAGE_SNAPSHOT_EVERY", "200", _positive_int),
            lineage_skew_seconds=reader.get("LINEAGE_SKEW_SECONDS", "10", _positive_int),
            lineage_ingest_reach=reader.get("LINEAGE_INGEST_REACH", "5000", _positive_int),
            lineage_ingest_fresh_ms=reader.get("LINEAGE_INGEST_FRESH_MS", "0", _non_negative_int),
            audit_seal_seconds=reader.get("AUDIT_SEAL_SECONDS", "3600", _seal_period),
            compact_grace_seconds=_compact_grace(reader, timeout),
            config=config,
            alert_allow_loopback=reader.get("ALERT_ALLOW_LOOPBACK", "false", _bool),
            alert_retry_seconds=reader.get("ALERT_RETRY_SECONDS", DEFAULT_ALERT_RETRY, _schedule),
            alert_delivery_total_seconds=reader.get(
                "ALERT_DELIVERY_TOTAL_SECONDS", "86400", _positive_seconds
            ),
            alert_send_timeout_seconds=reader.get(
                "ALERT_SEND_TIMEOUT_SECONDS", "15", _positive_seconds
            ),
            alert_poll_seconds=reader.get("ALERT_POLL_SECONDS", "5", _positive_seconds),
            **objects,
            **_metrics(env, reader),
        )


def _auth_mode(reader: _Reader, tokens: tuple[Secret, ...], *, has_access: bool) -> str:
    """``policy`` when the configuration file has an access section, else as before: ``token``
    when a shared token is set, else ``none``; a mode that would ignore the section is refused."""
    default = "policy" if has_access else "token" if tokens else "none"
    mode = reader.choice("AUTH_MODE", default, AUTH_MODES)
    if mode == "policy" and not has_access:
        raise ConfigError(
            f"{PREFIX}AUTH_MODE='policy' needs an access section in the configuration file "
            f"({PREFIX}CONFIG_FILE; see docs/access.md)"
        )
    if mode != "policy" and has_access:
        raise ConfigError(
            f"{PREFIX}AUTH_MODE={mode!r} with an access section in the configuration file: the "
            f"policy would not be enforced; remove {PREFIX}AUTH_MODE (or set it to policy)"
        )
    return mode


def _compact_grace(reader: _Reader, timeout: int) -> int:
    """The grace period after a day before it is compacted: longer than any ingest lasts, so
    that every run received during the day is indexed before its compact lists the day."""
    grace = reader.get("COMPACT_GRACE_SECONDS", "3600", _positive_int)
    if grace <= timeout:
        raise ConfigError(
            f"{PREFIX}COMPACT_GRACE_SECONDS={grace!r}: must be more than "
            f"{PREFIX}TIMEOUT_SECONDS ({timeout}), the longest an ingest may last"
        )
    return grace


def _config_file(env: Mapping[str, str]) -> ServerConfig:
    """The configuration file named by ``CONFIG_FILE``, validated now; none is an empty one."""
    path = env.get(f"{PREFIX}CONFIG_FILE", "").strip()
    return load_config(path, env) if path else ServerConfig()


def _object_store(env: Mapping[str, str], reader: _Reader, driver: str) -> dict[str, Any]:
    """The object-store settings, checked for the drivers that use them."""
    target = driver
    mirror_target = ""
    if driver == "mirror":
        if not env.get(f"{PREFIX}MIRROR_TARGET", "").strip():
            raise ConfigError(
                f"{PREFIX}STORAGE_DRIVER='mirror' needs {PREFIX}MIRROR_TARGET "
                f"({' or '.join(MIRROR_TARGETS)})"
            )
        target = mirror_target = reader.choice("MIRROR_TARGET", "", MIRROR_TARGETS)
    bucket = reader.get("OBJECT_BUCKET", "", str.strip)
    account = reader.get("R2_ACCOUNT_ID", "", str.strip)
    # The standard AWS variables, read here once like ours; S3-specific one first, as boto3 does.
    endpoint = (env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or "").strip()
    if target in MIRROR_TARGETS:
        if not bucket:
            raise ConfigError(f"{PREFIX}STORAGE_DRIVER={driver!r} needs {PREFIX}OBJECT_BUCKET")
        if not _BUCKET.match(bucket):
            raise ConfigError(
                f"{PREFIX}OBJECT_BUCKET={bucket!r}: not a valid bucket name "
                "(3 to 63 of a-z, 0-9, '.', '-')"
            )
    if account and not _DNS_LABEL.match(account):
        raise ConfigError(f"{PREFIX}R2_ACCOUNT_ID={account!r}: not a Cloudflare account id")
    if target == "r2" and not endpoint:
        if not account:
            raise ConfigError(
                f"{PREFIX}STORAGE_DRIVER={driver!r} with R2 needs {PREFIX}R2_ACCOUNT_ID "
                "(or an endpoint in AWS_ENDPOINT_URL_S3)"
            )
        endpoint = f"https://{account}.r2.cloudflarestorage.com"
    return {
        "object_bucket": bucket,
        "r2_account_id": account,
        "object_endpoint": endpoint,
        "object_connect_timeout": reader.get("OBJECT_CONNECT_TIMEOUT_SECONDS", "2", _positive_int),
        "object_read_timeout": reader.get("OBJECT_READ_TIMEOUT_SECONDS", "10", _positive_int),
        "object_max_attempts": reader.get("OBJECT_MAX_ATTEMPTS", "3", _positive_int),
        "mirror_target": mirror_target,
        "mirror_retry_max_seconds": reader.get("MIRROR_RETRY_MAX_SECONDS", "60", _positive_int),
        "object_deadline_seconds": reader.get("OBJECT_DEADLINE_SECONDS", "10", _positive_int),
        "object_cooldown_seconds": reader.get("OBJECT_COOLDOWN_SECONDS", "5", _positive_int),
    }


def _tokens(env: Mapping[str, str], name: str) -> tuple[Secret, ...]:
    """One token, or several separated by commas."""
    return tuple(Secret(t.strip()) for t in env.get(PREFIX + name, "").split(",") if t.strip())


def _metrics(env: Mapping[str, str], reader: _Reader) -> dict[str, Any]:
    """``GET /metrics``: off, open to whoever reaches the port, or behind its own tokens."""
    mode = reader.choice("METRICS", "off", METRICS_MODES)
    tokens = _tokens(env, "METRICS_TOKEN")
    if mode == "token" and not tokens:
        raise ConfigError(f"{PREFIX}METRICS='token' needs {PREFIX}METRICS_TOKEN")
    if mode != "token" and tokens:
        raise ConfigError(
            f"{PREFIX}METRICS_TOKEN is set but {PREFIX}METRICS={mode!r}: the token would not "
            f"be checked; set {PREFIX}METRICS=token"
        )
    host, port = "", 0
    if env.get(f"{PREFIX}METRICS_ADDR", "").strip():
        if mode == "off":
            raise ConfigError(f"{PREFIX}METRICS_ADDR is set but {PREFIX}METRICS='off'")
        host, port = reader.get("METRICS_ADDR", "", _parse_addr)
        if port == 0:
            raw = env[f"{PREFIX}METRICS_ADDR"]
            raise ConfigError(f"{PREFIX}METRICS_ADDR={raw!r}: needs a fixed port to scrape")
    return {
        "metrics": mode,
        "metrics_tokens": tokens,
        "metrics_host": host,
        "metrics_port": port,
    }


@dataclass(frozen=True, slots=True)
class _Reader:
    env: Mapping[str, str]

    def get(self, name: str, default: str, parse: Callable[[str], T]) -> T:
        raw = self.env.get(PREFIX + name, default)
        try:
            return parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name}={raw!r}: {exc}") from None

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.env.get(PREFIX + name, default)
        value = raw.strip().lower()
        if value not in allowed:
            raise ConfigError(f"{PREFIX}{name}={raw!r}: expected one of {', '.join(allowed)}")
        return value


KNOWN_VARIABLES = tuple(
    PREFIX + name
    for name in (
        "ADDR",
        "DATA_DIR",
        "STORAGE_DRIVER",
        "OBJECT_BUCKET",
        "OBJECT_PREFIX",
        "AUTH_MODE",
        "INGEST_TOKEN",
        "MAX_BODY_BYTES",
        "VALIDATION",
        "MAX_ERRORS",
        "WORKERS",
        "THREADS",
        "MAX_CONNECTIONS",
        "KEEPALIVE_SECONDS",
        "TIMEOUT_SECONDS",
        "HEADER_TIMEOUT_SECONDS",
        "READ_TIMEOUT_SECONDS",
        "LOG_LEVEL",
        "API_BASE_PATH",
        "ALLOW_EPHEMERAL_STORAGE",
        "R2_ACCOUNT_ID",
        "OBJECT_CONNECT_TIMEOUT_SECONDS",
        "OBJECT_READ_TIMEOUT_SECONDS",
        "OBJECT_MAX_ATTEMPTS",
        "MIRROR_TARGET",
        "MIRROR_RETRY_MAX_SECONDS",
        "MAX_JSON_VALUES",
        "METRICS",
        "METRICS_TOKEN",
        "METRICS_ADDR",
        "LINEAGE_DEPTH",
        "LINEAGE_SNAPSHOT_EVERY",
        "LINEAGE_SKEW_SECONDS",
        "OBJECT_DEADLINE_SECONDS",
        "OBJECT_COOLDOWN_SECONDS",
        "LINEAGE_INGEST_REACH",
        "LINEAGE_INGEST_FRESH_MS",
        "COMPACT_GRACE_SECONDS",
        "CONFIG_FILE",
        "AUDIT_SEAL_SECONDS",
        "ALERT_ALLOW_LOOPBACK",
        "ALERT_RETRY_SECONDS",
        "ALERT_DELIVERY_TOTAL_SECONDS",
        "ALERT_SEND_TIMEOUT_SECONDS",
        "ALERT_POLL_SECONDS",
    )
)
"""Every variable :meth:`Settings.from_env` reads; the docs test checks each is documented."""
