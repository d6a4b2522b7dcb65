"""The services as real processes: start over mutual TLS, health SERVING, reflection only when asked for,
SIGTERM, fail-fast config, and every caller that is not allowed in refused with the right status."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from tls_support import tls_env, tls_files

from common import grpc_tls
from devstack.ports import free_port

SERVICES = {
    "customer_service": ("CUSTOMER_SERVICE", "autentikapp.v1.CustomerService"),
    "identifier_service": ("IDENTIFIER_SERVICE", "autentikapp.v1.IdentifierService"),
}
CERTIFICATES = {"customer_service": "customer-service", "identifier_service": "identifier-service"}


def start(module: str, env: dict[str, str]) -> subprocess.Popen:
    """The service as a process, presenting its own certificate unless `env` says otherwise."""
    return subprocess.Popen(
        [sys.executable, "-m", module], env={**os.environ, **tls_env(CERTIFICATES[module]), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_serving(proc: subprocess.Popen, port: int, timeout: float = 30) -> health_pb2.HealthCheckResponse:
    """Health Check that waits for the server to come up, and fails at once if the process died."""
    deadline = time.monotonic() + timeout
    with grpc_tls.channel(f"127.0.0.1:{port}", tls_files(grpc_tls.OPERATOR)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                return stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=0.5, wait_for_ready=True)
            except grpc.RpcError:
                if proc.poll() is not None:
                    pytest.fail(f"the service exited with {proc.returncode}: {proc.stdout.read()}")
                if time.monotonic() > deadline:
                    raise


@pytest.mark.parametrize("module", sorted(SERVICES))
def test_service_serves_health_and_reflection_then_stops_on_sigterm(module, database_factory):
    prefix, full_name = SERVICES[module]
    port = free_port()
    url = database_factory(module)
    proc = start(module, {f"{prefix}_DATABASE_URL": url, f"{prefix}_PORT": str(port), "BIND_HOST": "127.0.0.1",
                          "GRPC_REFLECTION": "true"})
    try:
        assert wait_serving(proc, port).status == health_pb2.HealthCheckResponse.SERVING
        with grpc_tls.channel(f"127.0.0.1:{port}", tls_files(grpc_tls.OPERATOR)) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            assert stub.Check(health_pb2.HealthCheckRequest(service=full_name)).status == health_pb2.HealthCheckResponse.SERVING
            services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
        assert {full_name, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= services
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "applied migrations 001_" in output
    assert f"{module} stopped" in output


@pytest.mark.parametrize("module", sorted(SERVICES))
def test_bad_database_url_fails_fast_naming_the_variable(module):
    prefix, _ = SERVICES[module]
    proc = start(module, {f"{prefix}_DATABASE_URL": "mysql://u:hunter2@db/x"})
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert output.strip().splitlines() == [
        f"{module}: configuration error: {prefix}_DATABASE_URL: expected a postgres:// or postgresql:// URL, got scheme 'mysql'"
    ]


def test_unreachable_database_is_one_clear_line():
    port = free_port()  # nothing listens there
    proc = start("customer_service", {"CUSTOMER_SERVICE_DATABASE_URL": f"postgresql://u:hunter2@127.0.0.1:{port}/x"})
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1 and "cannot use the database postgresql://u:***@127.0.0.1" in lines[0], output
    assert "hunter2" not in output


@pytest.mark.parametrize("module", sorted(SERVICES))
def test_a_taken_port_is_one_line_naming_its_variable(module, database_factory):
    prefix, _ = SERVICES[module]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(module, {f"{prefix}_DATABASE_URL": database_factory(module), f"{prefix}_PORT": str(port),
                              "BIND_HOST": "127.0.0.1"})
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, output
    assert output.strip().splitlines()[-1] == (
        f"{module}: cannot listen on 127.0.0.1:{port} ({prefix}_PORT): the port is taken or not ours")
