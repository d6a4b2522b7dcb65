"""Configuration from environment variables, validated at start.

Every process reads its settings here, so each variable has one name, one default and one check.
A bad value stops the process at once with a one-line message that names the variable.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
CUSTOMER_SERVICE_DEFAULT_PORT = 50051
IDENTIFIER_SERVICE_DEFAULT_PORT = 50052
GATEWAY_DEFAULT_PORT = 8080
PROCESSOR_GRPC_DEFAULT_PORT = 50053  # the processor's EventOutcomeService
GATEWAY_ADMIN_DEFAULT_PORT = 50054
DASHBOARD_DEFAULT_PORT = 8090
# Where each process serves /metrics when METRICS_PORT is unset. Deployments set 9102 for every pod;
# the defaults differ so that processes started by hand on one machine do not fight over one port.
METRICS_DEFAULT_PORTS = {"gateway": 9102, "processor": 9103, "customer_service": 9104, "identifier_service": 9105,
                         "dashboard": 9106, "gateway_admin": 9107}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and what to fix."""


def env_str(name: str, default: str) -> str:
    """Return the variable's value, or the default when it is unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return an integer setting, checked against its bounds."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}: must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}: must be <= {maximum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    """Return a float setting (seconds, ratios), checked against its lower bound."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if not math.isfinite(value):  # float() accepts "nan" and "inf", which no setting means
        raise ConfigError(f"{name}: expected a finite number, got {raw!r}")
    if value < minimum:
        raise ConfigError(f"{name}: must be >= {minimum}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    """Return a boolean setting: 1/true/yes/on or 0/false/no/off."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, safe to print or log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _check_url(name: str, value: str, schemes: set[str]) -> str:
    """Fail fast on a URL with the wrong scheme or no host, naming the variable (never its password)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigError(f"{name}: not a valid URL ({exc})") from None
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in sorted(schemes))
        raise ConfigError(f"{name}: expected a {wanted} URL, got scheme {parts.scheme or 'none'!r}")
    if not parts.hostname and "host=" not in parts.query:
        raise ConfigError(f"{name}: the URL has no host")
    return value


def http_url(name: str, default: str) -> str:
    """An http(s) base URL setting (e.g. PUBLIC_BASE_URL), without a trailing slash."""
    return _check_url(name, env_str(name, default).rstrip("/"), {"http", "https"})


def database_url(name: str) -> str:
    """A service's Postgres URL: its own variable, else DATABASE_URL, else the local default."""
    if os.environ.get(name, "").strip():
        return _check_url(name, os.environ[name].strip(), {"postgresql", "postgres"})
    fallback = env_str("DATABASE_URL", DEFAULT_DATABASE_URL)
    return _check_url("DATABASE_URL", fallback, {"postgresql", "postgres"})


def nats_url() -> str:
    """NATS_URL; several servers may be given comma-separated."""
    value = env_str("NATS_URL", DEFAULT_NATS_URL)
    for server in value.split(","):
        _check_url("NATS_URL", server.strip(), {"nats", "tls"})
    return value


def env_secret(name: str) -> str:
    """A secret from the variable `name`, or from the file `name`_FILE names (a mounted Secret): at most one
    of the two ("" when neither). The messages name the variables, never the secret."""
    value = os.environ.get(name, "")
    path = os.environ.get(f"{name}_FILE", "").strip()
    if not path:
        return value.strip()
    if value.strip():
        raise ConfigError(f"{name} and {name}_FILE: set one, not both")
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"{name}_FILE={path}: cannot read it ({reason})") from None
    if not value:
        raise ConfigError(f"{name}_FILE={path}: the file is empty")
    return value


def grpc_address(name: str, default_port: int) -> str:
    """host:port of a gRPC service for its clients, e.g. CUSTOMER_SERVICE_ADDR."""
    value = env_str(name, f"localhost:{default_port}")
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: expected host:port, got {value!r}")
    return value


def metrics_port(process: str) -> int:
    """METRICS_PORT: the port of this process's Prometheus endpoint; unset or empty means the process's
    default (METRICS_DEFAULT_PORTS), 0 means no endpoint at all."""
    return env_int("METRICS_PORT", METRICS_DEFAULT_PORTS[process], minimum=0, maximum=65535)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


def log_level() -> str:
    """LOG_LEVEL, upper-cased and checked: a typo must not silently mean "log nothing"."""
    value = env_str("LOG_LEVEL", "INFO").upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return value


def log_format() -> str:
    """LOG_FORMAT, lower-cased and checked: text (one line per record) or json (one object per line)."""
    value = env_str("LOG_FORMAT", "text").lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT: expected one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return value


@dataclass(frozen=True)
class ProcessSettings:
    """What every process reads the same way, whatever it does: its database, how it logs, where it
    serves metrics, how long it drains at shutdown, whether it migrates at start, which address it binds.

    Each process's settings extend this class; `common_from_env` reads these fields once, here."""

    database_url: str
    log_level: str
    log_format: str
    metrics_port: int
    grace_seconds: float
    migrate_on_start: bool
    bind_host: str

    @staticmethod
    def common_from_env(process: str, database_var: str) -> dict[str, Any]:
        """The shared fields for `process` (a key of METRICS_DEFAULT_PORTS), its database URL from
        `database_var` (else DATABASE_URL); as keyword arguments for the subclass's constructor."""
        return dict(
            database_url=database_url(database_var),
            log_level=log_level(),
            log_format=log_format(),
            metrics_port=metrics_port(process),
            grace_seconds=env_float("SHUTDOWN_GRACE_SECONDS", 10.0),
            migrate_on_start=env_bool("MIGRATE_ON_START", True),
            bind_host=env_str("BIND_HOST", "0.0.0.0"),
        )


@dataclass(frozen=True)
class ServiceSettings(ProcessSettings):
    """What a gRPC service process needs besides the shared settings: its port and pool."""

    port: int
    pool_min: int
    pool_max: int
    tls: Any  # common.grpc_tls.TlsFiles, or None when the environment names none
    reflection: bool

    @classmethod
    def from_env(cls, prefix: str, default_port: int) -> "ServiceSettings":
        """Read e.g. CUSTOMER_SERVICE_DATABASE_URL, CUSTOMER_SERVICE_PORT, the TLS files (GRPC_TLS_*) and
        the shared settings."""
        from common import grpc_tls  # it reads its variables with this module's helpers

        pool_min = env_int(f"{prefix}_POOL_MIN", 2, minimum=1)
        return cls(
            **ProcessSettings.common_from_env(prefix.lower(), f"{prefix}_DATABASE_URL"),
            port=env_int(f"{prefix}_PORT", default_port, minimum=0, maximum=65535),
            pool_min=pool_min,
            pool_max=env_int(f"{prefix}_POOL_MAX", 10, minimum=pool_min),
            tls=grpc_tls.TlsFiles.named(),  # required only to serve (grpc_tls.required): migrate needs none
            reflection=grpc_tls.reflection_enabled(),
        )
