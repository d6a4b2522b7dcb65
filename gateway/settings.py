"""The gateway's settings, from the environment (validated at start; a bad value names its variable)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from common import limits
from common.bus import DEFAULT_MAX_MESSAGE_BYTES, BusSettings
from common.config import (
    GATEWAY_DEFAULT_PORT,
    ConfigError,
    ProcessSettings,
    database_url,
    env_float,
    env_int,
    http_url,
)
from gateway import buyer_rules, standard_webhooks

# What a work message holds besides its body and the sale parsed from it, at most: the tenant's buyer
# rules at their caps (buyer_rules.MAX_VALUES_PER_FIELD values of each field, as long as a value may be,
# with protobuf's tag and length), the event's ids and times, and the message's headers.
EVENT_OVERHEAD_BYTES = buyer_rules.MAX_VALUES_PER_FIELD * (
    limits.MAX_NATIONAL_ID + limits.MAX_EMAIL + limits.MAX_PHONE_INPUT + 3 * 4) + 16 * 1024


def max_event_bytes(max_body_bytes: int) -> int:
    """The largest work message a body of `max_body_bytes` can become: the body, the sale parsed from it
    (never larger than the JSON it came from, which spends more on every field than protobuf does;
    tests/unit/test_event_size.py checks it at every cap) and EVENT_OVERHEAD_BYTES."""
    return 2 * max_body_bytes + EVENT_OVERHEAD_BYTES


def largest_body_for(max_message_bytes: int) -> int:
    """The largest body (whole KiB) whose event fits a message of `max_message_bytes`."""
    return (max_message_bytes - EVENT_OVERHEAD_BYTES) // 2 // 1024 * 1024


# The largest body whose event fits the bus's default message size (BUS_MAX_MESSAGE_BYTES, 1 MiB, NATS's
# own default max_payload): 487 KiB.
DEFAULT_MAX_BODY_BYTES = largest_body_for(DEFAULT_MAX_MESSAGE_BYTES)
# Per tenant and per gunicorn worker process (see gateway/rate_limit.py); 0 per second disables it.
DEFAULT_RATE_LIMIT_PER_SECOND = 50.0
DEFAULT_RATE_LIMIT_BURST = 100
DEFAULT_PUBLIC_BASE_URL = f"http://localhost:{GATEWAY_DEFAULT_PORT}"
# How long refused requests are kept for their tenant, and how many at most (docs/design.md "Refused requests").
DEFAULT_REFUSED_RETENTION_HOURS = 168
MAX_REFUSED_RETENTION_HOURS = 24 * 366
DEFAULT_REFUSED_MAX_PER_TENANT = 1000
MAX_REFUSED_MAX_PER_TENANT = 100_000


def gateway_database_url() -> str:
    """GATEWAY_DATABASE_URL, else DATABASE_URL: where the tenants and their secrets live."""
    return database_url("GATEWAY_DATABASE_URL")


def public_base_url() -> str:
    """PUBLIC_BASE_URL: how senders reach the gateway, for printed endpoint URLs (no trailing slash)."""
    return http_url("PUBLIC_BASE_URL", DEFAULT_PUBLIC_BASE_URL)


def refused_retention_hours() -> int:
    """GATEWAY_REFUSED_RETENTION_HOURS: how long a refused request is kept (and listed), 1 hour to a year."""
    return env_int("GATEWAY_REFUSED_RETENTION_HOURS", DEFAULT_REFUSED_RETENTION_HOURS, minimum=1,
                   maximum=MAX_REFUSED_RETENTION_HOURS)


def refused_max_per_tenant() -> int:
    """GATEWAY_REFUSED_MAX_PER_TENANT: the most refused requests kept per tenant (the oldest beyond it go)."""
    return env_int("GATEWAY_REFUSED_MAX_PER_TENANT", DEFAULT_REFUSED_MAX_PER_TENANT, minimum=1,
                   maximum=MAX_REFUSED_MAX_PER_TENANT)


@dataclass(frozen=True)
class GatewaySettings(ProcessSettings):
    """Everything the gateway process needs besides the shared settings; read once per process."""

    port: int
    workers: int
    threads: int
    max_body_bytes: int
    publish_timeout_seconds: float
    retry_after_seconds: int
    secret_cache_seconds: float
    signature_tolerance_seconds: int
    rate_limit_per_second: float
    rate_limit_burst: int
    pool_min: int
    pool_max: int
    refused_retention_hours: int
    refused_max_per_tenant: int
    bus: BusSettings

    @classmethod
    def from_env(cls) -> "GatewaySettings":
        """Read and check every gateway variable; raise ConfigError naming the first bad one."""
        pool_min = env_int("GATEWAY_POOL_MIN", 1, minimum=1)
        bus = BusSettings.from_env()
        max_body = env_int("GATEWAY_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1024)
        if max_event_bytes(max_body) > bus.max_message_bytes:
            raise ConfigError(
                f"GATEWAY_MAX_BODY_BYTES={max_body}: a body that large becomes a message of up to "
                f"{max_event_bytes(max_body)} bytes (the body, its parsed sale, the tenant's buyer rules), more than "
                f"BUS_MAX_MESSAGE_BYTES={bus.max_message_bytes}, so the bus would refuse it for ever: set it to at "
                f"most {largest_body_for(bus.max_message_bytes)}, or raise BUS_MAX_MESSAGE_BYTES together with the "
                "NATS servers' max_payload")
        return cls(
            **ProcessSettings.common_from_env("gateway", "GATEWAY_DATABASE_URL"),
            port=env_int("GATEWAY_PORT", GATEWAY_DEFAULT_PORT, minimum=0, maximum=65535),
            workers=env_int("GATEWAY_WORKERS", os.cpu_count() or 1, minimum=1, maximum=256),
            threads=env_int("GATEWAY_THREADS", 8, minimum=1, maximum=1024),
            max_body_bytes=max_body,
            publish_timeout_seconds=env_float("GATEWAY_PUBLISH_TIMEOUT_SECONDS", 2.0, minimum=0.1),
            retry_after_seconds=env_int("GATEWAY_RETRY_AFTER_SECONDS", 5, minimum=1, maximum=3600),
            secret_cache_seconds=env_float("GATEWAY_SECRET_CACHE_SECONDS", 30.0, minimum=0.0),
            signature_tolerance_seconds=env_int("GATEWAY_SIGNATURE_TOLERANCE_SECONDS",
                                                standard_webhooks.DEFAULT_TOLERANCE_SECONDS, minimum=1, maximum=3600),
            rate_limit_per_second=env_float("GATEWAY_RATE_LIMIT_PER_SECOND", DEFAULT_RATE_LIMIT_PER_SECOND,
                                            minimum=0.0),
            rate_limit_burst=env_int("GATEWAY_RATE_LIMIT_BURST", DEFAULT_RATE_LIMIT_BURST, minimum=1,
                                     maximum=1_000_000),
            pool_min=pool_min,
            pool_max=env_int("GATEWAY_POOL_MAX", 4, minimum=pool_min),
            refused_retention_hours=refused_retention_hours(),
            refused_max_per_tenant=refused_max_per_tenant(),
            bus=bus,
        )
