"""Readiness checks for ProcessGroup.start(ready=...): each returns a zero-argument callable.

A check answers "ready now?" once; ProcessGroup does the retrying, so each attempt stays short.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable


def grpc_serving(address: str, service: str = "", timeout: float = 1.0) -> Callable[[], bool]:
    """True when grpc.health.v1 Check(`service`) at `address` (host:port) answers SERVING."""

    def check() -> bool:
        import grpc  # imported here so the infrastructure modules do not need grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(address) as channel:
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
