"""Readiness checks for ProcessGroup.start(ready=...): each returns a zero-argument callable.

A check answers "ready now?" once; ProcessGroup does the retrying, so each attempt stays short.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.grpc_tls import TlsFiles


def grpc_serving(address: str, tls: TlsFiles | None, service: str = "", timeout: float = 1.0) -> Callable[[], bool]:
    """True when grpc.health.v1 Check(`service`) at `address` (host:port) answers SERVING, asked over mutual
    TLS with `tls` (plain text when None)."""

    def check() -> bool:
        from grpc_health.v1 import health_pb2, health_pb2_grpc  # here: the infrastructure modules need no grpc

        from common import grpc_tls

        with grpc_tls.channel(address, tls) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
            return response.status == health_pb2.HealthCheckResponse.SERVING

    return check


def http_ok(url: str, timeout: float = 1.0) -> Callable[[], bool]:
    """True when GET `url` answers 2xx (e.g. a gateway's /readyz); never goes through a proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def check() -> bool:
        try:
            with opener.open(url, timeout=timeout) as response:
                return 200 <= response.status < 300
        except urllib.error.HTTPError:
            return False

    return check
