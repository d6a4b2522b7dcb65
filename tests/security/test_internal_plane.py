"""The internal plane's gRPC side, against the real services as processes: mutual TLS, and each caller's
role (docs/design.md "The internal plane"). A caller without a certificate, with one from another CA, or
over plain text is refused at the handshake (UNAVAILABLE); a role that may not call an RPC gets
PERMISSION_DENIED; reflection is off unless asked for; a service without certificates refuses to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from tls_support import tls_env, tls_files

from autentikapp.v1 import customer_pb2, customer_pb2_grpc, identifier_pb2, identifier_pb2_grpc
from common import dev_certificates, grpc_tls
from devstack.ports import free_port

SERVICES = {"customer_service": "CUSTOMER_SERVICE", "identifier_service": "IDENTIFIER_SERVICE"}
CERTIFICATES = {"customer_service": "customer-service", "identifier_service": "identifier-service"}


def start(module: str, env: dict[str, str]) -> subprocess.Popen:
    """The service as a process, presenting its own certificate unless `env` says otherwise."""
    return subprocess.Popen([sys.executable, "-m", module], env={**os.environ, **tls_env(CERTIFICATES[module]), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_serving(proc: subprocess.Popen, port: int, timeout: float = 30) -> None:
    """Wait for the service to answer health over mutual TLS; fail at once if the process died."""
    deadline = time.monotonic() + timeout
    with grpc_tls.channel(f"127.0.0.1:{port}", tls_files(grpc_tls.OPERATOR)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=0.5, wait_for_ready=True)
                return
            except grpc.RpcError:
                if proc.poll() is not None:
                    pytest.fail(f"the service exited with {proc.returncode}: {proc.stdout.read()}")
                if time.monotonic() > deadline:
                    raise


@pytest.fixture(scope="module")
def running(tmp_path_factory, postgres):
    """Both services as processes over mutual TLS (reflection off, the default); their ports."""
    from customer_service.process import MIGRATIONS as CUSTOMER_MIGRATIONS
    from identifier_service.process import MIGRATIONS as IDENTIFIER_MIGRATIONS

    from common import migrations

    ports, procs = {}, []
    for module, migrations_dir in (("customer_service", CUSTOMER_MIGRATIONS),
                                   ("identifier_service", IDENTIFIER_MIGRATIONS)):
        prefix = SERVICES[module]
        url = postgres.create_database(module)
        migrations.apply(url, migrations_dir)
        ports[module] = free_port()
        procs.append(start(module, {f"{prefix}_DATABASE_URL": url, f"{prefix}_PORT": str(ports[module]),
                                    "BIND_HOST": "127.0.0.1"}))
        wait_serving(procs[-1], ports[module])
    yield ports
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def call_as(files, port: int, call: str):
    """One call to a service as the holder of `files` (None: no certificate at all); its status code."""
    target = {"assign": (identifier_pb2_grpc.IdentifierServiceStub, "AssignIdentifiers",
                         identifier_pb2.AssignIdentifiersRequest()),
              "register": (identifier_pb2_grpc.IdentifierServiceStub, "RegisterIdentifiers",
                           identifier_pb2.RegisterIdentifiersRequest(tenant_id="t1", codes=["TLS-1"])),
              "erase": (customer_pb2_grpc.CustomerServiceStub, "EraseCustomer",
                        customer_pb2.EraseCustomerRequest(tenant_id="t1", customer_id="00000000-0000-0000-0000-000000000000")),
              "list": (customer_pb2_grpc.CustomerServiceStub, "ListCustomers", customer_pb2.ListCustomersRequest(tenant_id="t1")),
              "health": (health_pb2_grpc.HealthStub, "Check", health_pb2.HealthCheckRequest())}
    stub_class, method, request = target[call]
    channel = (grpc.secure_channel(f"127.0.0.1:{port}", grpc.ssl_channel_credentials(tls_files(grpc_tls.OPERATOR).ca.read_bytes()))
               if files is None else grpc_tls.channel(f"127.0.0.1:{port}", files))
    with channel:
        try:
            getattr(stub_class(channel), method)(request, timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as exc:
            return exc.code()


@pytest.mark.parametrize("role,call,service,expected", [
    # The processor links and upserts; a dashboard reads; an operator administers. Nobody else.
    (grpc_tls.DASHBOARD, "assign", "identifier_service", grpc.StatusCode.PERMISSION_DENIED),
    (grpc_tls.DASHBOARD, "register", "identifier_service", grpc.StatusCode.PERMISSION_DENIED),
    (grpc_tls.PROCESSOR, "erase", "customer_service", grpc.StatusCode.PERMISSION_DENIED),
    (grpc_tls.PROCESSOR, "list", "customer_service", grpc.StatusCode.PERMISSION_DENIED),
    ("customer-service", "assign", "identifier_service", grpc.StatusCode.PERMISSION_DENIED),  # a peer service
    (grpc_tls.OPERATOR, "register", "identifier_service", grpc.StatusCode.OK),
    (grpc_tls.DASHBOARD, "list", "customer_service", grpc.StatusCode.OK),
    # Let in: the empty batch reaches the service, which refuses it on its merits.
    (grpc_tls.PROCESSOR, "assign", "identifier_service", grpc.StatusCode.INVALID_ARGUMENT),
    (grpc_tls.DASHBOARD, "health", "customer_service", grpc.StatusCode.OK),
])
def test_each_role_may_call_only_what_it_needs(running, role, call, service, expected):
    assert call_as(tls_files(role), running[service], call) == expected


def test_a_caller_without_a_certificate_is_refused_before_any_call(running):
    """The TLS handshake fails: UNAVAILABLE, and the service saw no call at all."""
    assert call_as(None, running["identifier_service"], "health") == grpc.StatusCode.UNAVAILABLE


def test_a_certificate_from_another_ca_is_refused(running, tmp_path):
    """A certificate that names the right role but was signed by another CA (an attacker's) is refused."""
    dev_certificates.create(tmp_path)
    foreign = grpc_tls.TlsFiles(tls_files(grpc_tls.PROCESSOR).ca, tmp_path / "processor.crt", tmp_path / "processor.key")
    assert call_as(foreign, running["identifier_service"], "assign") == grpc.StatusCode.UNAVAILABLE


def test_plain_text_is_refused(running):
    with grpc.insecure_channel(f"127.0.0.1:{running['customer_service']}") as channel:
        with pytest.raises(grpc.RpcError) as refused:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_reflection_is_off_unless_asked_for(running):
    with grpc_tls.channel(f"127.0.0.1:{running['customer_service']}", tls_files(grpc_tls.OPERATOR)) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            ProtoReflectionDescriptorDatabase(channel).get_services()
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_without_certificates_a_service_refuses_to_start_naming_the_variables(database_factory):
    env = {"CUSTOMER_SERVICE_DATABASE_URL": database_factory("customer_service"), "GRPC_TLS_CA_FILE": "",
           "GRPC_TLS_CERT_FILE": "", "GRPC_TLS_KEY_FILE": ""}
    proc = start("customer_service", env)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "GRPC_TLS_CA_FILE, GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE" in output and "GRPC_INSECURE=true" in output
