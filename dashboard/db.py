"""The dashboard's database: a small sync psycopg pool (Flask's threads), as the gateway's tenants use.

A database that is down or saturated becomes common.errors.Unavailable, which the app answers 503.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from common import db
from common.errors import Unavailable

MIGRATIONS = Path(__file__).parent / "migrations"


def open_pool(url: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 10.0) -> ConnectionPool:
    """Open the dashboard's pool and wait for its first connections, so a bad database fails at start."""
    return db.open_sync_pool(url, "dashboard", min_size=min_size, max_size=max_size, timeout=timeout)


@contextlib.contextmanager
def connection(pool: ConnectionPool, timeout: float | None = None) -> Iterator[psycopg.Connection]:
    """A pooled connection (autocommit; use conn.transaction() for more than one statement)."""
    try:
        with pool.connection(timeout=timeout) as conn:
            yield conn
    except PoolTimeout:
        raise Unavailable("the dashboard database is busy: no connection became free in time") from None
    except psycopg.OperationalError as exc:
        raise Unavailable(f"the dashboard database is unavailable ({exc.sqlstate or type(exc).__name__})") from None
