"""NATS and Postgres for one developer session or one test session: given or started here.

A URL in the environment wins (NATS_URL, DATABASE_URL, or a service's own *_DATABASE_URL), so the
same code runs against shared servers; whatever is missing is started locally under `base_dir`.
Each service gets its own database, as in production, even when they share one server.
The gateway's GATEWAY_ENCRYPTION_KEYS is handed out the same way: given, or a development key kept
under `base_dir` (devstack/dev_keys.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from common.config import redact_url
from devstack import dev_keys
from devstack.nats import LocalNats
from devstack.postgres import LocalPostgres, ensure_database

# Per-service URL variable -> the database it gets when derived from a shared server.
SERVICE_DATABASES: dict[str, str] = {
    "CUSTOMER_SERVICE_DATABASE_URL": "autentikapp_customers",
    "IDENTIFIER_SERVICE_DATABASE_URL": "autentikapp_identifiers",
    "GATEWAY_DATABASE_URL": "autentikapp_gateway",
    "PROCESSOR_DATABASE_URL": "autentikapp_processor",
    "DASHBOARD_DATABASE_URL": "autentikapp_dashboard",
}


ENCRYPTION_KEYS = "GATEWAY_ENCRYPTION_KEYS"


class InfrastructureError(RuntimeError):
    """A given server could not be used (e.g. DATABASE_URL unreachable); the message has no password."""


def with_database(server_url: str, dbname: str) -> str:
    """The same server URL (user, password, host, options) pointing at another database."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


class Infrastructure:
    """Find or start NATS and Postgres, create the per-service databases, and hand out the env.

    `durable=False` (tests) runs a local Postgres without fsync. Use as a context manager, or call
    start() and stop().
    """

    def __init__(self, base_dir: Path, *, durable: bool = True, environ: Mapping[str, str] | None = None) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.durable = durable
        self._environ = dict(os.environ if environ is None else environ)
        self.nats: LocalNats | None = None  # set when we started it (fault tests may kill/restart it)
        self.postgres: LocalPostgres | None = None
        self._env: dict[str, str] = {}

    def _given(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def start(self) -> "Infrastructure":
        """Start what is missing and create the databases; on failure, stop what was started."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def nats_admin_url(self) -> str:
        """The URL that sees everything on the bus: the local server's admin (its processes each connect as
        their own user), else the NATS_URL given."""
        if self.nats is not None:
            return self.nats.url
        return self.env()["NATS_URL"]

    def _start(self) -> None:
        env: dict[str, str] = {}
        nats_url = self._given("NATS_URL")
        if nats_url is None:
            self.nats = LocalNats(self.base_dir / "nats", users=True).start()
            nats_url = self.nats.client_url
            env.update(self.nats.password_env())
        env["NATS_URL"] = nats_url

        missing = [name for name in SERVICE_DATABASES if self._given(name) is None]
        server_url = self._given("DATABASE_URL")
        if missing and server_url is None:
            self.postgres = LocalPostgres(self.base_dir / "postgres", durable=self.durable).start()
            server_url = self.postgres.url()
        for name, dbname in SERVICE_DATABASES.items():
            given = self._given(name)
            if given is not None:
                env[name] = given
            else:
                assert server_url is not None
                try:
                    ensure_database(server_url, dbname)
                except psycopg.Error as exc:
                    raise InfrastructureError(
                        f"cannot create database {dbname} on {redact_url(server_url)}: {exc}".strip()) from None
                env[name] = with_database(server_url, dbname)
        try:
            env[ENCRYPTION_KEYS] = self._given(ENCRYPTION_KEYS) or dev_keys.ensure(self.base_dir)
        except (dev_keys.DevKeyError, OSError) as exc:
            raise InfrastructureError(str(exc)) from None
        self._env = env

    def env(self) -> dict[str, str]:
        """NATS_URL, every service's *_DATABASE_URL and GATEWAY_ENCRYPTION_KEYS, for child processes (may
        hold passwords and the key: never print it)."""
        if not self._env:
            raise RuntimeError("Infrastructure.env() before start()")
        return dict(self._env)

    def stop(self) -> None:
        """Stop what we started, newest first; servers given by URL are left alone."""
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        if self.nats is not None:
            self.nats.stop()
            self.nats = None

    def __enter__(self) -> "Infrastructure":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
