"""Postgres access shared by the processes: explicitly opened pools (async for the gRPC services and the
processor, sync for the Flask apps' threads: the gateway, its admin API, the dashboard) and error
translation.

The pool is opened with `open=False` then `await pool.open(wait=True)` so a service fails at start,
with a clear message, when its database is unreachable, instead of on the first request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from common.config import redact_url
from common.errors import Unavailable


async def open_pool(url: str, *, min_size: int = 2, max_size: int = 10, timeout: float = 10.0) -> AsyncConnectionPool:
    """Open a pool and wait until it holds min_size connections; raise Unavailable if it cannot."""
    pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=timeout,
        kwargs={"autocommit": True, "row_factory": dict_row},
        check=AsyncConnectionPool.check_connection,
        name=redact_url(url),
    )
    try:
        await pool.open(wait=True, timeout=timeout)
    except PoolTimeout:
        await pool.close()
        raise Unavailable(f"cannot connect to Postgres at {redact_url(url)}") from None
    except BaseException:  # cancelled while waiting (a process stopping during start-up): no workers left behind
        await pool.close()
        raise
    return pool


@contextlib.asynccontextmanager
async def connection(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection]:
    """A pooled connection; a database that is down or overloaded becomes Unavailable (retryable)."""
    try:
        async with pool.connection() as conn:
            yield conn
    except PoolTimeout:
        raise Unavailable("the database is busy: no connection became free in time") from None
    except psycopg.OperationalError as exc:
        raise Unavailable(f"the database is unavailable: {exc.sqlstate or type(exc).__name__}") from None


def open_sync_pool(url: str, name: str, *, min_size: int = 1, max_size: int = 4,
                   timeout: float = 10.0) -> ConnectionPool:
    """A sync pool, opened now and waited for, so a bad database fails at start (Unavailable). A request
    waits at most 3 s for a free connection."""
    pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=False, timeout=3.0,
                          kwargs={"autocommit": True, "row_factory": dict_row},
                          check=ConnectionPool.check_connection, name=name)
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout:
        pool.close()
        raise Unavailable(f"cannot connect to Postgres at {redact_url(url)}") from None
    return pool


@contextlib.contextmanager
def sync_connection(pool: ConnectionPool, what: str, timeout: float | None = None) -> Iterator[psycopg.Connection]:
    """A connection of a sync pool; `what` ("the tenants database") names it when it is down or saturated,
    which becomes Unavailable (retryable)."""
    try:
        with pool.connection(timeout=timeout) as conn:
            yield conn
    except PoolTimeout:
        raise Unavailable(f"{what} is busy: no connection became free in time") from None
    except psycopg.OperationalError as exc:
        raise Unavailable(f"{what} is unavailable ({exc.sqlstate or type(exc).__name__})") from None
