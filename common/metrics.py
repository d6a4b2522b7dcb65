"""Prometheus plumbing every process shares: the endpoint, the bucket sets, and gRPC call metrics.

Each process defines its metrics next to the code that updates them (gateway/metrics.py,
processor/metrics.py, the services' server metrics in common/grpc_server.py); docs/operations.md
"Metrics" lists them all. The services and the processor serve their default registry with `serve`;
the gateway's gunicorn master serves its workers' metrics (common/metrics_master.py).
"""

from __future__ import annotations

import logging
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, disable_created_metrics, start_http_server

log = logging.getLogger(__name__)

# No `*_created` series beside every counter and histogram: twice the series for a timestamp no alert uses.
disable_created_metrics()

# Seconds, from a millisecond (a gRPC call, a PubAck) to a minute.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Items in one batch call (the services accept up to 1,000; the processor sends up to 500).
BATCH_ITEMS_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


def serve(port: int, host: str, registry: CollectorRegistry = REGISTRY) -> WSGIServer | None:
    """Serve `registry` at http://host:port/metrics from a daemon thread; None when `port` is 0 (the
    endpoint is disabled). A taken port raises OSError naming METRICS_PORT, so start-up fails with
    one line instead of running unobserved."""
    if port == 0:
        log.info("metrics endpoint disabled (METRICS_PORT=0)")
        return None
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise OSError(f"cannot serve metrics on {host}:{port} (METRICS_PORT): {exc.strerror or exc}") from None
    log.info("metrics at http://%s:%d/metrics", host, port)
    return server


def rpc_labels(full_method: str) -> tuple[str, str]:
    """("autentikapp.v1.CustomerService", "UpsertCustomers") from "/autentikapp.v1.CustomerService/UpsertCustomers",
    the shape gRPC names a method in on both sides of a call."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


def batch_items(request: Any) -> int | None:
    """How many items a batch request carries (its repeated `items` field); None for any other message."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None or "items" not in descriptor.fields_by_name:
        return None
    return len(request.items)


class RpcMetrics:
    """gRPC calls by method and status code, their latency, and the items of each batch call: one set
    for the side that handles calls (the services) and one for the side that makes them (the processor)."""

    def __init__(self, side: str, registry: CollectorRegistry = REGISTRY) -> None:
        """`side` is "server" or "client": it names the metrics, e.g. autentikapp_grpc_server_calls_total."""
        verb = "handled" if side == "server" else "made"
        self.calls = Counter(f"autentikapp_grpc_{side}_calls", f"gRPC calls {verb}, by method and status code",
                             ["service", "method", "code"], registry=registry)
        self.seconds = Histogram(f"autentikapp_grpc_{side}_call_seconds", f"Duration of the gRPC calls {verb}",
                                 ["service", "method"], buckets=LATENCY_BUCKETS, registry=registry)
        self.items = Histogram(f"autentikapp_grpc_{side}_batch_items", f"Items per batch call {verb}",
                               ["service", "method"], buckets=BATCH_ITEMS_BUCKETS, registry=registry)

    def observe(self, full_method: str, code: str, seconds: float, request: Any) -> None:
        """Count one finished call (`code` is the status name, e.g. "OK") and its duration; for a batch
        request, its item count too."""
        service, method = rpc_labels(full_method)
        self.calls.labels(service, method, code).inc()
        self.seconds.labels(service, method).observe(seconds)
        items = batch_items(request)
        if items is not None:
            self.items.labels(service, method).observe(items)
