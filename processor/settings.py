"""The processor's settings, read from the environment once at start and validated there.

A bad value stops the process with one line naming the variable (common.config.ConfigError).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from common.bus import BusSettings
from common.config import (
    CUSTOMER_SERVICE_DEFAULT_PORT,
    IDENTIFIER_SERVICE_DEFAULT_PORT,
    ConfigError,
    database_url,
    env_bool,
    env_float,
    env_int,
    env_str,
    grpc_address,
    metrics_port,
    redact_url,
)

DEFAULT_RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def env_seconds_list(name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """A comma-separated list of non-negative seconds, e.g. "1,2,5"; the last one repeats when used."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name}: expected comma-separated seconds like 1,2,5, got {raw!r}") from None
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise ConfigError(f"{name}: every delay must be a finite number >= 0, got {raw!r}")
    return values


@dataclass(frozen=True)
class ProcessorSettings:
    """Everything `python -m processor` needs; see README "Configuration" for each variable."""

    bus: BusSettings
    customer_service_addr: str
    identifier_service_addr: str
    database_url: str
    pool_min: int
    pool_max: int
    batch_size: int
    concurrency: int
    fetch_timeout_seconds: float
    rpc_timeout_seconds: float
    retry_delays: tuple[float, ...]
    unexpected_max_deliveries: int
    migrate_on_start: bool
    grace_seconds: float
    log_level: str
    log_format: str
    metrics_port: int
    bind_host: str

    @property
    def nats_url_for_logs(self) -> str:
        """NATS_URL with any password replaced, server by server (it may list several)."""
        return ",".join(redact_url(server.strip()) for server in self.bus.url.split(","))

    @classmethod
    def from_env(cls) -> "ProcessorSettings":
        """Read and check every variable; raise ConfigError naming the first bad one."""
        pool_min = env_int("PROCESSOR_POOL_MIN", 2, minimum=1)
        log_level = env_str("LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
        return cls(
            bus=BusSettings.from_env(),
            customer_service_addr=grpc_address("CUSTOMER_SERVICE_ADDR", CUSTOMER_SERVICE_DEFAULT_PORT),
            identifier_service_addr=grpc_address("IDENTIFIER_SERVICE_ADDR", IDENTIFIER_SERVICE_DEFAULT_PORT),
            database_url=database_url("PROCESSOR_DATABASE_URL"),
            pool_min=pool_min,
            pool_max=env_int("PROCESSOR_POOL_MAX", 10, minimum=pool_min),
            batch_size=env_int("PROCESSOR_BATCH_SIZE", 128, minimum=1, maximum=1000),
            concurrency=env_int("PROCESSOR_CONCURRENCY", 256, minimum=1, maximum=10_000),
            fetch_timeout_seconds=env_float("PROCESSOR_FETCH_TIMEOUT_SECONDS", 1.0, minimum=0.1),
            rpc_timeout_seconds=env_float("PROCESSOR_RPC_TIMEOUT_SECONDS", 5.0, minimum=0.1),
            retry_delays=env_seconds_list("PROCESSOR_RETRY_DELAYS", DEFAULT_RETRY_DELAYS),
            unexpected_max_deliveries=env_int("PROCESSOR_UNEXPECTED_MAX_DELIVERIES", 3, minimum=1),
            migrate_on_start=env_bool("MIGRATE_ON_START", True),
            grace_seconds=env_float("SHUTDOWN_GRACE_SECONDS", 10.0),
            log_level=log_level,
            log_format=env_str("LOG_FORMAT", "text"),
            metrics_port=metrics_port("processor"),
            bind_host=env_str("BIND_HOST", "0.0.0.0"),
        )
