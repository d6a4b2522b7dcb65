"""Shared fixtures: the test session's own Postgres, a NATS per test, fresh databases, gRPC servers.

The session starts its own servers on free ports under pytest's temp dir, so the suite never depends
on services installed on the machine. Set TEST_POSTGRES_URL to use an existing server instead.
"""

from __future__ import annotations

import devstack  # noqa: F401, I001  - first: disables gRPC's fork handlers before grpc is imported

# isort: split
import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from tls_support import RoleRoutingChannel, tls_env, tls_files

from common import db, grpc_tls, migrations
from common.grpc_server import create_server

# Every process a test starts inherits this: no metrics endpoint, unless the test gives it a port
# (system_support does, on free ports). The defaults would collide between processes and sessions.
os.environ["METRICS_PORT"] = "0"
# Likewise the processor's gRPC port (its EventOutcomeService): 0 picks a free one.
os.environ["PROCESSOR_GRPC_PORT"] = "0"
# gRPC runs over mutual TLS in the tests as everywhere (tests/tls_support.py): the session's calls use
# the operator's certificate unless a test gives another.
os.environ.update(tls_env(grpc_tls.OPERATOR))


class PostgresServer:
    """A Postgres server the tests may create and drop databases on."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url

    def url(self, dbname: str) -> str:
        """The URL of another database on the same server (URL form, as the services expect)."""
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{dbname}"))

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Iterator[PostgresServer]:
    """The session's Postgres: its own throwaway server unless TEST_POSTGRES_URL names one."""
    if os.environ.get("TEST_POSTGRES_URL"):
        yield PostgresServer(os.environ["TEST_POSTGRES_URL"])
        return
    from devstack.postgres import LocalPostgres

    with LocalPostgres(tmp_path_factory.mktemp("postgres") / "data", durable=False) as server:
        yield PostgresServer(server.url("postgres"))


@pytest.fixture
def nats_server(tmp_path):
    """A NATS server with JetStream of this test's own (starting one takes well under a second), so
    streams never leak between tests and a test may stop, kill or restart it."""
    from devstack.nats import LocalNats

    with LocalNats(tmp_path / "nats", users=True) as server:
        yield server


@pytest.fixture
def encryption_key_setting() -> str:
    """A GATEWAY_ENCRYPTION_KEYS value of this test's own: one fresh key (the gateway has no default)."""
    from gateway import encryption_keys

    return encryption_keys.new_entry("test")


@pytest.fixture
def keyring(encryption_key_setting):
    """The Keyring of `encryption_key_setting`, for TenantStore."""
    from gateway import encryption_keys

    return encryption_keys.parse(encryption_key_setting)


@pytest.fixture
def database_factory(postgres) -> Iterator[Callable[[str, Path | None], str]]:
    """Creates empty (or migrated) databases for one test and drops them afterwards."""
    created: list[str] = []

    def make(prefix: str, migrations_dir: Path | None = None) -> str:
        url = postgres.create_database(prefix)
        created.append(url)
        if migrations_dir is not None:
            migrations.apply(url, migrations_dir)
        return url

    yield make
    for url in created:
        postgres.drop_database(url)


class ServiceThread:
    """A service's real gRPC server (over a TCP socket) on its own event loop in a background thread.

    Tests talk to it with ordinary sync stubs, exactly as another process would.
    """

    def __init__(self, registrations, database_url: str, certificate: str):
        self._registrations = registrations
        self._database_url = database_url
        self._tls = tls_files(certificate)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    def _call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self):
        self.pool = await db.open_pool(self._database_url, min_size=2, max_size=20)
        self.server, self.port, _ = await create_server(self._registrations(self.pool), "127.0.0.1:0", self._tls)

    async def _stop(self):
        await self.server.stop(1)
        await self.pool.close()

    def __enter__(self) -> "ServiceThread":
        self._thread.start()
        self._call(self._start())
        self.channel = RoleRoutingChannel(f"127.0.0.1:{self.port}")  # each call as a role allowed to make it
        return self

    def __exit__(self, *exc) -> None:
        self.channel.close()
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def customer_db(database_factory) -> str:
    from customer_service.process import MIGRATIONS

    return database_factory("customers", MIGRATIONS)


@pytest.fixture
def identifier_db(database_factory) -> str:
    from identifier_service.process import MIGRATIONS

    return database_factory("identifiers", MIGRATIONS)


@pytest.fixture
def customer_service(customer_db) -> Iterator[ServiceThread]:
    """A running customer service on a fresh, migrated database."""
    from customer_service.process import registrations

    with ServiceThread(registrations, customer_db, "customer-service") as service:
        yield service


@pytest.fixture
def identifier_service(identifier_db) -> Iterator[ServiceThread]:
    """A running identifier service on a fresh, migrated database."""
    from identifier_service.process import registrations

    with ServiceThread(registrations, identifier_db, "identifier-service") as service:
        yield service


@pytest.fixture
def monkeypatch_now(monkeypatch):
    """Freeze the services' clock at tests/accepted_sales.NOW, so that the generated sale times (up to
    23 hours after it) are judged against the same "now" the gateway's rules used."""
    from accepted_sales import NOW

    from customer_service import service as customer_service
    from identifier_service import service as identifier_service

    monkeypatch.setattr(customer_service, "now", lambda: NOW)
    monkeypatch.setattr(identifier_service, "now", lambda: NOW)
    return NOW
