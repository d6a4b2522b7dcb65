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
    PROCESSOR_GRPC_DEFAULT_PORT,
    ConfigError,
    ProcessSettings,
    env_float,
    env_int,
    grpc_address,
)
from common.grpc_tls import TlsFiles, reflection_enabled

DEFAULT_RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# The bytes of the messages in hand (PROCESSOR_MAX_IN_FLIGHT_BYTES): what the memory limit of a replica
# is sized from (docs/design.md "Memory": base RSS + overhead per in-flight byte x (budget + one message)).
DEFAULT_MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024


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
class ProcessorSettings(ProcessSettings):
    """Everything `python -m processor` needs besides the shared settings; docs/configuration.md
    describes each variable."""

    bus: BusSettings
    customer_service_addr: str
    identifier_service_addr: str
    pool_min: int
    pool_max: int
    batch_size: int
    concurrency: int
    max_in_flight_bytes: int
    fetch_timeout_seconds: float
    rpc_timeout_seconds: float
    tls: TlsFiles | None  # the processor's certificate: to call the services and to serve (common/grpc_tls.py)
    grpc_port: int  # where `serve` answers EventOutcomeService (processor/outcome_api.py); 0 picks a free port
    reflection: bool
    retry_delays: tuple[float, ...]
    unexpected_max_deliveries: int

    @classmethod
    def from_env(cls) -> "ProcessorSettings":
        """Read and check every variable; raise ConfigError naming the first bad one."""
        pool_min = env_int("PROCESSOR_POOL_MIN", 2, minimum=1)
        return cls(
            **ProcessSettings.common_from_env("processor", "PROCESSOR_DATABASE_URL"),
            bus=BusSettings.from_env(),
            customer_service_addr=grpc_address("CUSTOMER_SERVICE_ADDR", CUSTOMER_SERVICE_DEFAULT_PORT),
            identifier_service_addr=grpc_address("IDENTIFIER_SERVICE_ADDR", IDENTIFIER_SERVICE_DEFAULT_PORT),
            pool_min=pool_min,
            pool_max=env_int("PROCESSOR_POOL_MAX", 10, minimum=pool_min),
            batch_size=env_int("PROCESSOR_BATCH_SIZE", 128, minimum=1, maximum=1000),
            concurrency=env_int("PROCESSOR_CONCURRENCY", 256, minimum=1, maximum=10_000),
            max_in_flight_bytes=env_int("PROCESSOR_MAX_IN_FLIGHT_BYTES", DEFAULT_MAX_IN_FLIGHT_BYTES, minimum=1),
            fetch_timeout_seconds=env_float("PROCESSOR_FETCH_TIMEOUT_SECONDS", 1.0, minimum=0.1),
            rpc_timeout_seconds=env_float("PROCESSOR_RPC_TIMEOUT_SECONDS", 5.0, minimum=0.1),
            tls=TlsFiles.named(),  # required only to serve (runner): migrate needs none
            grpc_port=env_int("PROCESSOR_GRPC_PORT", PROCESSOR_GRPC_DEFAULT_PORT, minimum=0, maximum=65535),
            reflection=reflection_enabled(),
            retry_delays=env_seconds_list("PROCESSOR_RETRY_DELAYS", DEFAULT_RETRY_DELAYS),
            unexpected_max_deliveries=env_int("PROCESSOR_UNEXPECTED_MAX_DELIVERIES", 3, minimum=1),
        )
