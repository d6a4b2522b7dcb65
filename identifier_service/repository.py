"""SQL for the identifiers table. Every query is scoped to a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

COLUMNS = (
    "tenant_id, code, customer_id, assigned_at, sold_at, transaction_id, product_sku, product_name,"
    " event_id, registered_at"
)


async def register(conn: psycopg.AsyncConnection, tenant_id: str, codes: list[str]) -> int:
    """Insert the codes the tenant does not have yet, in one statement; return how many were new."""
    cur = await conn.execute(
        "INSERT INTO identifiers (tenant_id, code) SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
        (tenant_id, codes),
    )
    return cur.rowcount


async def get(conn: psycopg.AsyncConnection, tenant_id: str, code: str) -> dict[str, Any] | None:
    """One of the tenant's codes."""
    cur = await conn.execute(f"SELECT {COLUMNS} FROM identifiers WHERE tenant_id = %s AND code = %s", (tenant_id, code))
    return await cur.fetchone()


@dataclass(frozen=True)
class Provenance:
    """The sale that links a code to its customer."""

    transaction_id: str
    product_sku: str
    product_name: str
    event_id: str
    sold_at: datetime


@dataclass(frozen=True)
class Assignment:
    """One code to link to one customer, with the sale as provenance."""

    tenant_id: str
    code: str
    customer_id: str
    provenance: Provenance


# One statement decides the outcome of every assignment of a batch (keys must be unique within it:
# common.batch_rpc.rounds). `current` locks the rows in key order, so concurrent batches wait for each
# other instead of deadlocking, and under READ COMMITTED a concurrent assignment makes it wait and then
# read the committed holder; `assigned` writes only where the code was free. previous_customer_id
# tells: no row = unknown_code, NULL = assigned now, the same customer = already_assigned, another =
# conflict. The batch arrives as one JSON array (json.dumps is far cheaper than adapting eight
# Python lists to Postgres arrays); `n` is each item's position in it (1-based).
_ASSIGN = f"""
WITH input AS (
    SELECT * FROM jsonb_to_recordset(%(items)s::jsonb)
        AS x(n integer, tenant_id text, code text, customer_id uuid, sold_at timestamptz, transaction_id text,
             product_sku text, product_name text, event_id text)
), current AS (
    SELECT i.tenant_id, i.code, i.customer_id, i.assigned_at, i.sold_at, i.transaction_id, i.product_sku,
           i.product_name, i.event_id, i.registered_at, x.n
    FROM identifiers AS i JOIN input AS x ON i.tenant_id = x.tenant_id AND i.code = x.code
    ORDER BY i.tenant_id, i.code
    FOR NO KEY UPDATE OF i
), assigned AS (
    UPDATE identifiers AS i
    SET customer_id = x.customer_id, assigned_at = now(), sold_at = x.sold_at,
        transaction_id = x.transaction_id, product_sku = x.product_sku,
        product_name = x.product_name, event_id = x.event_id
    FROM current AS c JOIN input AS x ON x.n = c.n
    WHERE i.tenant_id = c.tenant_id AND i.code = c.code AND c.customer_id IS NULL
    RETURNING i.*
)
SELECT c.n, c.customer_id AS previous_customer_id,
       c.tenant_id, c.code, c.registered_at,
       COALESCE(a.customer_id, c.customer_id) AS customer_id,
       COALESCE(a.assigned_at, c.assigned_at) AS assigned_at,
       COALESCE(a.sold_at, c.sold_at) AS sold_at,
       COALESCE(a.transaction_id, c.transaction_id) AS transaction_id,
       COALESCE(a.product_sku, c.product_sku) AS product_sku,
       COALESCE(a.product_name, c.product_name) AS product_name,
       COALESCE(a.event_id, c.event_id) AS event_id
FROM current AS c LEFT JOIN assigned AS a ON a.tenant_id = c.tenant_id AND a.code = c.code
"""


async def assign(conn: psycopg.AsyncConnection, assignments: list[Assignment]) -> list[dict[str, Any] | None]:
    """Link each code to its customer where the code is free, in one statement; per assignment, the row as
    stored plus previous_customer_id, or None for a code the tenant does not have. Keys must be unique."""
    items = [
        {"n": n, "tenant_id": a.tenant_id, "code": a.code, "customer_id": a.customer_id,
         "sold_at": a.provenance.sold_at.isoformat(), "transaction_id": a.provenance.transaction_id or None,
         "product_sku": a.provenance.product_sku or None, "product_name": a.provenance.product_name or None,
         "event_id": a.provenance.event_id or None}
        for n, a in enumerate(assignments, start=1)
    ]
    cur = await conn.execute(_ASSIGN, {"items": Jsonb(items)})
    rows: list[dict[str, Any] | None] = [None] * len(assignments)
    for row in await cur.fetchall():
        rows[row.pop("n") - 1] = row
    return rows


async def page(
    conn: psycopg.AsyncConnection, tenant_id: str, customer_id: str | None, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` of the tenant's codes after `after`, in code order, optionally of one customer."""
    conditions = ["tenant_id = %(tenant_id)s"]
    if customer_id is not None:
        conditions.append("customer_id = %(customer_id)s")
    if after is not None:
        conditions.append("code > %(after)s")
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM identifiers WHERE {' AND '.join(conditions)} ORDER BY code LIMIT %(limit)s",
        {"tenant_id": tenant_id, "customer_id": customer_id, "after": after, "limit": limit},
    )
    return await cur.fetchall()
