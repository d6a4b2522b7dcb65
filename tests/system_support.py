"""Helpers for tests that run the whole system (e2e, faults): start it, drive it, poll it.

gunicorn (gateway) + NATS + processor + both gRPC services + Postgres, started exactly as `make run`
starts them (devstack.system), on free ports, with databases of this test's own.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from autentikapp.v1 import customer_pb2_grpc, identifier_pb2, identifier_pb2_grpc
from tls_support import RoleRoutingChannel
from devstack import system
from devstack.ports import free_port
from devstack.processes import ProcessGroup

EXAMPLE = Path(system.REPO_ROOT, "cli", "examples", "transaction_created.json")

# Short redelivery delays and secret cache so failure scenarios finish in seconds.
TEST_SETTINGS = {
    "PROCESSOR_RETRY_DELAYS": "0.2,0.5,1,2",
    "GATEWAY_SECRET_CACHE_SECONDS": "1",
    "GATEWAY_WORKERS": "2",
    "SHUTDOWN_GRACE_SECONDS": "5",
    "LOG_FORMAT": "json",
}


@dataclass
class System:
    """Handles on a running system, and the calls a sender or an operator would make."""

    group: ProcessGroup
    env: dict[str, str]
    ports: dict[str, int | None]
    nats: Any
    channels: dict[str, grpc.Channel] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def cli(self, *args: str, check: bool = True) -> Any:
        """Run `autentikapp --json ...` against this system; return its parsed output."""
        result = subprocess.run(
            [str(Path(sys.executable).with_name("autentikapp")), "--json", *args],
            env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"autentikapp {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return json.loads(result.stdout) if result.stdout.strip() else None

    def post(self, tenant_id: str, body: bytes, headers: dict[str, str] | None = None,
             method: str = "POST", path: str | None = None) -> tuple[int, dict[str, str], Any]:
        """One HTTP request to the gateway; returns status, headers, parsed JSON body (or raw text)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["gateway"], timeout=10)
        try:
            conn.request(method, path or f"/v1/webhooks/inbound/{tenant_id}", body=body, headers=headers or {})
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed

    def send(self, tenant_id: str, secret: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        """A correctly signed webhook, as the integration guide tells senders to build it."""
        return self.post(tenant_id, body, {"Content-Type": "application/json", "X-Autentikapp-Signature": sign(secret, body)})

    def create_tenant(self, tenant_id: str, name: str, codes: tuple[str, ...] = ()) -> str:
        """A tenant made straight through the gateway's store (what `autentikapp tenants create` does, without a
        CLI process per call), with `codes` registered; returns its first secret."""
        from gateway import encryption_keys
        from gateway.tenants import TenantStore

        store = TenantStore.open(self.env["GATEWAY_DATABASE_URL"],
                                 keyring=encryption_keys.parse(self.env[encryption_keys.ENV_VAR]))
        try:
            secret = store.create_tenant(name, tenant_id)[1].secret
        finally:
            store.close()
        if codes:
            self.stub("identifier_service").RegisterIdentifiers(
                identifier_pb2.RegisterIdentifiersRequest(tenant_id=tenant_id, codes=list(codes)), timeout=10)
        return secret

    def outcome(self, event_id: str, status: str | None = None, timeout: float = 30.0) -> dict:
        """The event's outcome as `autentikapp events show` prints it, once the processor recorded one (with
        `status`, when given). The wait reads the processor's table; the CLI runs once, at the end: a CLI
        run costs 0.6 s of CPU, and polling with it slowed the very system the test waited for."""
        def recorded() -> bool:
            with psycopg.connect(self.env["PROCESSOR_DATABASE_URL"]) as conn:
                row = conn.execute("SELECT status FROM event_outcomes WHERE event_id = %s", (event_id,)).fetchone()
            return row is not None and (status is None or row[0] == status)

        wait_for(recorded, timeout=timeout, what=f"the outcome of {event_id}" + (f" ({status})" if status else ""))
        return self.cli("events", "show", event_id)

    def event_status(self, tenant_id: str, event_id: str) -> str | None:
        """The outcome status the processor recorded for an event ("processed", "dead_lettered"), asked of its
        EventOutcomeService as the operator; None while it has none."""
        from autentikapp.v1 import event_outcomes_pb2, event_outcomes_pb2_grpc
        from common import grpc_tls

        if "processor" not in self.channels:
            self.channels["processor"] = grpc_tls.channel(f"127.0.0.1:{self.ports['processor']}",
                                                          system.tls_files(self.env))
        stub = event_outcomes_pb2_grpc.EventOutcomeServiceStub(self.channels["processor"])
        try:
            request = event_outcomes_pb2.GetEventOutcomeRequest(tenant_id=tenant_id, event_id=event_id)
            return stub.GetEventOutcome(request, timeout=5).outcome.status
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def stub(self, service: str):
        """A sync gRPC stub to one of the services."""
        if service not in self.channels:
            self.channels[service] = RoleRoutingChannel(f"127.0.0.1:{self.ports[service]}",
                                                        system.tls_files(self.env).ca.parent)
        stubs = {"customer_service": customer_pb2_grpc.CustomerServiceStub,
                 "identifier_service": identifier_pb2_grpc.IdentifierServiceStub}
        return stubs[service](self.channels[service])

    def stop(self, name: str) -> None:
        self.group.stop(name)

    def start(self, name: str) -> None:
        system.start(self.group, name, self.env, self.ports, metrics_ports=self.metrics_ports)

    def scrape(self, name: str) -> dict[tuple[str, frozenset], float]:
        """One process's /metrics as {(sample name, frozenset of label pairs): value}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_ports[name]}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        return {(sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    def kill(self, name: str) -> None:
        """SIGKILL one process (a crash: no graceful shutdown)."""
        self.group.kill(name)


def sign(secret: str, body: bytes) -> str:
    """HMAC-SHA256 hex of the raw body, keyed with the whole secret string: written here from the
    guide, independently of the gateway's code, so the test checks the contract and not itself."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll until `check` returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - not there yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def sessions_waiting_on_locks(url: str) -> int:
    """How many other sessions of this database wait for a lock right now (to line up a race)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()").fetchone()[0]


# What a sale goes through; the brands' side (gateway_admin, dashboard) only when a test asks for it
# (`with_dashboard`): most tests never use it, and each system would start two more processes.
SALE_PATH = ("customer_service", "identifier_service", "processor", "gateway")


@contextlib.contextmanager
def start_system(log_dir: Path, nats_server: Any, database_urls: dict[str, str],
                 extra_env: dict[str, str] | None = None, *, with_dashboard: bool = False) -> Iterator[System]:
    """The processes of the system, started as `make run` starts them (devstack.system), on free ports:
    those of SALE_PATH, or every one with `with_dashboard`.

    database_urls: the per-service *_DATABASE_URL variables (empty databases are fine: every process
    applies its own migrations at start).
    """
    ports = {s.name: (free_port() if s.port_var else None) for s in system.PROCESSES}
    # Each process connects as its own NATS user, as in production; `nats_server.url` (the tests') sees all.
    infra_env = {"NATS_URL": nats_server.client_url, **nats_server.password_env(), **database_urls}
    env = {**system.child_environment(infra_env, ports, tls_dir=log_dir / "tls"), **TEST_SETTINGS, **(extra_env or {})}
    group = ProcessGroup(log_dir, grace=10)
    sut = System(group, env, ports, nats_server, metrics_ports={s.name: free_port() for s in system.PROCESSES})
    try:
        for spec in system.PROCESSES:
            if with_dashboard or spec.name in SALE_PATH:
                sut.start(spec.name)
        yield sut
    finally:
        for channel in sut.channels.values():
            channel.close()
        group.stop_all(at_once=True)  # the test is over: nothing is left to finish in order


@contextlib.contextmanager
def own_system(root: Path, postgres: Any, extra_env: dict[str, str] | None = None, *,
               with_dashboard: bool = False) -> Iterator[System]:
    """A system with a NATS and databases of its own under `root` (for a module's tests to share: starting
    one takes seconds), dropped afterwards. `postgres` is the session's server (tests/conftest.py)."""
    from devstack.nats import LocalNats
    from devstack.stack import SERVICE_DATABASES

    urls: dict[str, str] = {}
    try:
        with LocalNats(root / "nats", users=True) as nats_server:
            for variable, name in SERVICE_DATABASES.items():
                urls[variable] = postgres.create_database(name)
            with start_system(root / "logs", nats_server, urls, extra_env, with_dashboard=with_dashboard) as sut:
                yield sut
    finally:
        for url in urls.values():
            postgres.drop_database(url)
