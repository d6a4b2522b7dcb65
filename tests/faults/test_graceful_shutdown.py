"""Guarantee 7 for the gRPC services: SIGTERM drains in-flight calls; nothing is cut off half-done.

A call is held in flight by a row lock taken from the test, the service gets SIGTERM, the lock is
released: the call completes with OK, the process exits 0, and new calls are refused afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import psycopg
import pytest

from autentikapp.v1 import customer_pb2, customer_pb2_grpc, identifier_pb2, identifier_pb2_grpc
from common import grpc_tls
from devstack.ports import free_port
from system_support import sessions_waiting_on_locks, wait_for
from tls_support import tls_env, tls_files


def start_service(module: str, prefix: str, url: str, log_path: Path) -> tuple[subprocess.Popen, grpc.Channel]:
    """The service as a process, its output in `log_path` (read while it runs)."""
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", module],
                                env={**os.environ, **tls_env(module.replace("_", "-")),
                                     f"{prefix}_DATABASE_URL": url, f"{prefix}_PORT": str(port),
                                     "BIND_HOST": "127.0.0.1", "SHUTDOWN_GRACE_SECONDS": "10"},
                                stdout=log, stderr=subprocess.STDOUT)
    channel = grpc_tls.channel(f"127.0.0.1:{port}", tls_files(grpc_tls.OPERATOR))
    grpc.channel_ready_future(channel).result(timeout=30)
    return proc, channel


def drain_scenario(proc, log_path: Path, lock_sql: str, url: str, call):
    """Hold a row lock, start `call` (it blocks on the lock), SIGTERM, release: the call must succeed."""
    with psycopg.connect(url) as locker:
        locker.execute(lock_sql)  # inside the connection's transaction: held until commit
        future = call()
        wait_for(lambda: sessions_waiting_on_locks(url) > 0, what="the call to wait on the lock inside the service")
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "draining in-flight calls" in log_path.read_text(), what="the service to start draining")
        assert proc.poll() is None, "the service must wait for the in-flight call"
        assert not future.done() and sessions_waiting_on_locks(url) > 0, "the call is still in flight, held"
        locker.commit()
    response = future.result(timeout=15)
    proc.wait(timeout=30)
    output = log_path.read_text()
    assert proc.returncode == 0, output
    assert "draining in-flight calls" in output
    return response


@pytest.mark.timeout(120)
def test_customer_service_drains_in_flight_upserts(tmp_path, database_factory):
    from customer_service.process import MIGRATIONS

    url = database_factory("customers", MIGRATIONS)
    log_path = tmp_path / "customer_service.log"
    proc, channel = start_service("customer_service", "CUSTOMER_SERVICE", url, log_path)
    stub = customer_pb2_grpc.CustomerServiceStub(channel)
    first = stub.UpsertCustomer(customer_pb2.UpsertCustomerRequest(tenant_id="t", data=customer_pb2.CustomerData(email="a@b.co")))
    response = drain_scenario(
        proc, log_path, f"SELECT * FROM customers WHERE id = '{first.customer.id}' FOR UPDATE", url,
        lambda: stub.UpsertCustomer.future(customer_pb2.UpsertCustomerRequest(
            tenant_id="t", data=customer_pb2.CustomerData(email="a@b.co", first_name="Drained")), timeout=20),
    )
    assert response.customer.first_name == "Drained"
    with pytest.raises(grpc.RpcError) as refused:
        stub.UpsertCustomer(customer_pb2.UpsertCustomerRequest(tenant_id="t", data=customer_pb2.CustomerData(email="x@b.co")), timeout=2)
    assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    channel.close()


@pytest.mark.timeout(120)
def test_identifier_service_drains_in_flight_assignments(tmp_path, database_factory):
    from identifier_service.process import MIGRATIONS

    url = database_factory("identifiers", MIGRATIONS)
    log_path = tmp_path / "identifier_service.log"
    proc, channel = start_service("identifier_service", "IDENTIFIER_SERVICE", url, log_path)
    stub = identifier_pb2_grpc.IdentifierServiceStub(channel)
    stub.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(tenant_id="t", codes=["held"]))
    customer = str(uuid.uuid4())
    response = drain_scenario(
        proc, log_path, "SELECT * FROM identifiers WHERE code = 'held' FOR UPDATE", url,
        lambda: stub.AssignIdentifier.future(identifier_pb2.AssignIdentifierRequest(
            tenant_id="t", code="held", customer_id=customer), timeout=20),
    )
    assert response.outcome == identifier_pb2.ASSIGN_OUTCOME_ASSIGNED
    with psycopg.connect(url) as conn:
        assert str(conn.execute("SELECT customer_id FROM identifiers WHERE code = 'held'").fetchone()[0]) == customer
    channel.close()
