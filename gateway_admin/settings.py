"""The admin process's settings: the gateway's database and keys, its gRPC port and certificate, NATS
(for the dead letters) and where the gateway answers HTTP (for test sales)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.bus import BusSettings
from common.config import GATEWAY_ADMIN_DEFAULT_PORT, GATEWAY_DEFAULT_PORT, ProcessSettings, env_float, env_int, \
    http_url

DEFAULT_GATEWAY_URL = f"http://127.0.0.1:{GATEWAY_DEFAULT_PORT}"


@dataclass(frozen=True)
class GatewayAdminSettings(ProcessSettings):
    """GATEWAY_ADMIN_PORT, GATEWAY_ADMIN_POOL_MIN/_MAX, GATEWAY_URL, GATEWAY_ADMIN_TIMEOUT_SECONDS, the
    gateway's database (GATEWAY_DATABASE_URL) and encryption keys, GRPC_TLS_*, NATS_*."""

    port: int
    pool_min: int
    pool_max: int
    gateway_url: str
    timeout_seconds: float
    tls: Any  # common.grpc_tls.TlsFiles, or None (required to serve: grpc_tls.required)
    reflection: bool
    bus: BusSettings

    @classmethod
    def from_env(cls) -> "GatewayAdminSettings":
        """Read and check every variable; ConfigError names the first bad one."""
        from common import grpc_tls
        from gateway import encryption_keys

        encryption_keys.from_env()  # without them no secret unseals: refuse to start, naming the variable
        pool_min = env_int("GATEWAY_ADMIN_POOL_MIN", 1, minimum=1)
        return cls(
            **ProcessSettings.common_from_env("gateway_admin", "GATEWAY_DATABASE_URL"),
            port=env_int("GATEWAY_ADMIN_PORT", GATEWAY_ADMIN_DEFAULT_PORT, minimum=0, maximum=65535),
            pool_min=pool_min,
            pool_max=env_int("GATEWAY_ADMIN_POOL_MAX", 4, minimum=pool_min),
            # The gateway as this process reaches it (inside the cluster), not PUBLIC_BASE_URL.
            gateway_url=http_url("GATEWAY_URL", DEFAULT_GATEWAY_URL),
            timeout_seconds=env_float("GATEWAY_ADMIN_TIMEOUT_SECONDS", 5.0, minimum=0.1),
            tls=grpc_tls.TlsFiles.named(),
            reflection=grpc_tls.reflection_enabled(),
            bus=BusSettings.from_env(),
        )
