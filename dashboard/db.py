"""The dashboard's database: a small sync psycopg pool (Flask's threads), as the gateway's tenants use.

A database that is down or saturated becomes common.errors.Unavailable, which the app answers 503.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from common import db

MIGRATIONS = Path(__file__).parent / "migrations"


def open_pool(url: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 10.0) -> ConnectionPool:
    """Open the dashboard's pool and wait for its first connections, so a bad database fails at start."""
    return db.open_sync_pool(url, "dashboard", min_size=min_size, max_size=max_size, timeout=timeout)


def connection(pool: ConnectionPool,
               timeout: float | None = None) -> contextlib.AbstractContextManager[psycopg.Connection]:
    """A pooled connection (autocommit; use conn.transaction() for more than one statement)."""
    return db.sync_connection(pool, "the dashboard database", timeout)
