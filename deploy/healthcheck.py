"""Container health probe for Docker Compose, and Kubernetes' exec probes of the gRPC servers (the
kubelet's native gRPC probe cannot present a client certificate, and the servers require one): the
services, gateway-admin and the processor's EventOutcomeService.

    python healthcheck.py grpc HOST:PORT [SERVICE]   grpc.health.v1 Check: exit 0 when SERVING
    python healthcheck.py http URL                   GET: exit 0 on a 2xx answer (the gateway's and the
                                                     dashboard's /readyz)
    python healthcheck.py processor-deps             what the processor needs is reachable: the NATS
                                                     server (TCP) and both services SERVING, at the
                                                     addresses its own environment names

The processor is probed on its own gRPC server (`grpc 127.0.0.1:50053 autentikapp.v1.EventOutcomeService`);
`processor-deps`, a check of its dependencies rather than of the processor, stays for diagnosing one by hand
(`docker compose exec processor python /opt/autentikapp/healthcheck.py processor-deps`).
gRPC checks go over mutual TLS with the container's own certificate (GRPC_TLS_*: a service's own
certificate serves as a client certificate too, and any certified caller may ask for health).
Exit 0 healthy, 1 unhealthy, 2 usage; one line on stdout saying which. Every check gives up after
TIMEOUT_SECONDS.
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 3.0
USAGE = "usage: healthcheck.py grpc HOST:PORT [SERVICE] | http URL | processor-deps"


def check_grpc(address: str, service: str = "") -> str | None:
    """None when `service` ("" = the whole server) reports SERVING at `address`, else why not."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from common import grpc_tls

    with grpc_tls.channel(address, grpc_tls.TlsFiles.from_env()) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            return f"grpc {address}: {exc.code().name}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"grpc {address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return None


def check_http(url: str) -> str | None:
    """None when GET `url` answers 2xx, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"http {url}: {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"http {url}: {exc}"
    return None if 200 <= status < 300 else f"http {url}: {status}"


def check_tcp(host: str, port: int) -> str | None:
    """None when a TCP connection to host:port opens."""
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS):
            return None
    except OSError as exc:
        return f"tcp {host}:{port}: {exc}"


def check_processor_deps() -> str | None:
    """The processor's NATS server (the first of NATS_URL) and both services, as its settings name them."""
    from common.config import (
        CUSTOMER_SERVICE_DEFAULT_PORT,
        IDENTIFIER_SERVICE_DEFAULT_PORT,
        grpc_address,
        nats_url,
    )

    first = urlsplit(nats_url().split(",")[0].strip())
    problem = check_tcp(first.hostname or "127.0.0.1", first.port or 4222)
    if problem:
        return problem
    for name, port in (("CUSTOMER_SERVICE_ADDR", CUSTOMER_SERVICE_DEFAULT_PORT),
                       ("IDENTIFIER_SERVICE_ADDR", IDENTIFIER_SERVICE_DEFAULT_PORT)):
        problem = check_grpc(grpc_address(name, port))
        if problem:
            return problem
    return None


def main(argv: list[str]) -> int:
    """Run one check; exit code 0 healthy, 1 not, 2 usage."""
    if len(argv) in (2, 3) and argv[0] == "grpc":
        problem = check_grpc(argv[1], argv[2] if len(argv) == 3 else "")
    elif len(argv) == 2 and argv[0] == "http":
        problem = check_http(argv[1])
    elif argv == ["processor-deps"]:
        problem = check_processor_deps()
    else:
        print(USAGE, file=sys.stderr)
        return 2
    print(problem or "healthy")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
