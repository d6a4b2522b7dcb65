"""The tenants repository: tenants (brands) and their webhook secrets, on a sync psycopg pool.

The gateway owns these tables; the CLI (`autentikapp tenants`) is their admin tool and uses this module
too. Secrets go through gateway.secret_storage on their way in and out, and never appear in a log
line, an exception message or a repr.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from common import ids, normalize
from common.config import redact_url
from common.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from gateway import secret_storage

MIGRATIONS = Path(__file__).parent / "migrations"
MAX_NAME = 200
GENERATED_ID_PREFIX = "tn_"


@dataclass(frozen=True)
class Tenant:
    """A brand with an account; `active_secrets` counts its unrevoked secrets."""

    id: str
    name: str
    created_at: datetime
    active_secrets: int


@dataclass(frozen=True)
class SecretInfo:
    """A secret's metadata (never its value)."""

    id: int
    tenant_id: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class NewSecret:
    """A secret just issued: the only time its value leaves the store. Hidden from repr."""

    id: int
    tenant_id: str
    created_at: datetime
    secret: str = field(repr=False)


def new_tenant_id() -> str:
    """A generated tenant id, valid for common.ids.tenant_id (URL- and subject-safe)."""
    return GENERATED_ID_PREFIX + secrets.token_hex(8)


def open_pool(url: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 10.0) -> ConnectionPool:
    """Open a pool explicitly and wait for its first connections, so a bad database fails at start."""
    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=3.0,  # how long a request waits for a free connection
        kwargs={"autocommit": True, "row_factory": dict_row},
        check=ConnectionPool.check_connection,
        name="gateway-tenants",
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout:
        pool.close()
        raise Unavailable(f"cannot connect to Postgres at {redact_url(url)}") from None
    return pool


class TenantStore:
    """Tenants and secrets in the gateway's database."""

    def __init__(self, pool: ConnectionPool):
        """Use an opened pool (see open_pool); the store closes it in close()."""
        self._pool = pool

    @classmethod
    def open(cls, url: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 10.0) -> "TenantStore":
        """A store on a newly opened pool."""
        return cls(open_pool(url, min_size=min_size, max_size=max_size, timeout=timeout))

    def close(self) -> None:
        """Close the pool (idempotent)."""
        self._pool.close()

    @contextlib.contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """A pooled connection; a database that is down or saturated becomes Unavailable (retryable)."""
        try:
            with self._pool.connection(timeout=timeout) as conn:
                yield conn
        except PoolTimeout:
            raise Unavailable("the tenants database is busy: no connection became free in time") from None
        except psycopg.OperationalError as exc:
            raise Unavailable(f"the tenants database is unavailable ({exc.sqlstate or type(exc).__name__})") from None

    def ping(self, timeout: float = 2.0) -> bool:
        """True when the database answers a trivial query within `timeout` (for /readyz)."""
        try:
            with self._connection(timeout) as conn:
                conn.execute("SELECT 1")
            return True
        except (Unavailable, psycopg.Error):
            return False

    def create_tenant(self, name: str, tenant_id: str | None = None) -> tuple[Tenant, NewSecret]:
        """Create a tenant (id generated when not given) with its first secret, in one transaction."""
        clean_name = normalize.text(name, "name", MAX_NAME)
        if not clean_name:
            raise InvalidArgument("name is required", "name")
        tenant_id = ids.tenant_id(tenant_id) if tenant_id is not None else new_tenant_id()
        try:
            with self._connection() as conn, conn.transaction():
                row = conn.execute(
                    "INSERT INTO tenants (id, name) VALUES (%s, %s) RETURNING id, name, created_at",
                    (tenant_id, clean_name),
                ).fetchone()
                secret = self._insert_secret(conn, tenant_id)
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"tenant {tenant_id} already exists") from None
        return Tenant(row["id"], row["name"], row["created_at"], active_secrets=1), secret

    def add_secret(self, tenant_id: str) -> NewSecret:
        """Issue one more active secret for the tenant (rotation: add, switch the sender, revoke the old)."""
        with self._connection() as conn:
            if not self._exists(conn, tenant_id):
                raise NotFound(f"tenant {tenant_id} not found")
            return self._insert_secret(conn, tenant_id)

    def revoke_secret(self, tenant_id: str, secret_id: int) -> SecretInfo:
        """Revoke one secret (idempotent: revoking a revoked secret keeps its first revocation time).

        Gateways stop accepting it within GATEWAY_SECRET_CACHE_SECONDS.
        """
        with self._connection() as conn:
            row = conn.execute(
                """UPDATE tenant_secrets SET revoked_at = coalesce(revoked_at, now())
                   WHERE tenant_id = %s AND id = %s
                   RETURNING id, tenant_id, created_at, revoked_at""",
                (tenant_id, secret_id),
            ).fetchone()
            if row is None:
                if not self._exists(conn, tenant_id):
                    raise NotFound(f"tenant {tenant_id} not found")
                raise NotFound(f"tenant {tenant_id} has no secret {secret_id}")
        return SecretInfo(**row)

    def list_tenants(self) -> list[Tenant]:
        """Every tenant, oldest first, with its count of active secrets."""
        with self._connection() as conn:
            rows = conn.execute(
                """SELECT t.id, t.name, t.created_at,
                          count(s.id) FILTER (WHERE s.revoked_at IS NULL) AS active_secrets
                   FROM tenants t LEFT JOIN tenant_secrets s ON s.tenant_id = t.id
                   GROUP BY t.id ORDER BY t.created_at, t.id"""
            ).fetchall()
        return [Tenant(**row) for row in rows]

    def get_tenant(self, tenant_id: str) -> Tenant:
        """One tenant with its count of active secrets (NotFound when there is none)."""
        with self._connection() as conn:
            row = conn.execute(
                """SELECT t.id, t.name, t.created_at,
                          count(s.id) FILTER (WHERE s.revoked_at IS NULL) AS active_secrets
                   FROM tenants t LEFT JOIN tenant_secrets s ON s.tenant_id = t.id
                   WHERE t.id = %s GROUP BY t.id""",
                (tenant_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return Tenant(**row)

    def list_secrets(self, tenant_id: str) -> list[SecretInfo]:
        """The tenant's secrets' metadata, oldest first (values are never returned here)."""
        with self._connection() as conn:
            rows = conn.execute(
                """SELECT id, tenant_id, created_at, revoked_at FROM tenant_secrets
                   WHERE tenant_id = %s ORDER BY id""",
                (tenant_id,),
            ).fetchall()
        return [SecretInfo(**row) for row in rows]

    def active_secrets(self, tenant_id: str) -> list[str]:
        """The values of the tenant's active secrets; empty for an unknown tenant (the caller cannot tell)."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT secret FROM tenant_secrets WHERE tenant_id = %s AND revoked_at IS NULL ORDER BY id",
                (tenant_id,),
            ).fetchall()
        return [secret_storage.unseal(row["secret"]) for row in rows]

    @staticmethod
    def _exists(conn: psycopg.Connection, tenant_id: str) -> bool:
        """True when the tenant exists."""
        return conn.execute("SELECT 1 FROM tenants WHERE id = %s", (tenant_id,)).fetchone() is not None

    @staticmethod
    def _insert_secret(conn: psycopg.Connection, tenant_id: str) -> NewSecret:
        """Generate, seal and store a new secret; return it in the clear, once."""
        secret = secret_storage.generate()
        row = conn.execute(
            "INSERT INTO tenant_secrets (tenant_id, secret) VALUES (%s, %s) RETURNING id, created_at",
            (tenant_id, secret_storage.seal(secret)),
        ).fetchone()
        return NewSecret(row["id"], tenant_id, row["created_at"], secret)
