"""SQL for the identifiers table. Every query is scoped to a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

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


# One statement decides the outcome. `current` locks the row, and under READ COMMITTED a concurrent
# assignment makes it wait and then read the committed holder; `assigned` writes only when the code
# was free. previous_customer_id tells: no row = unknown_code, NULL = assigned now, the same customer =
# already_assigned, another = conflict.
_ASSIGN = f"""
WITH current AS (
    SELECT {COLUMNS} FROM identifiers
    WHERE tenant_id = %(tenant_id)s AND code = %(code)s
    FOR NO KEY UPDATE
), assigned AS (
    UPDATE identifiers AS i
    SET customer_id = %(customer_id)s, assigned_at = now(), sold_at = %(sold_at)s,
        transaction_id = %(transaction_id)s, product_sku = %(product_sku)s,
        product_name = %(product_name)s, event_id = %(event_id)s
    FROM current AS c
    WHERE i.tenant_id = c.tenant_id AND i.code = c.code AND c.customer_id IS NULL
    RETURNING i.*
)
SELECT c.customer_id AS previous_customer_id,
       c.tenant_id, c.code, c.registered_at,
       COALESCE(a.customer_id, c.customer_id) AS customer_id,
       COALESCE(a.assigned_at, c.assigned_at) AS assigned_at,
       COALESCE(a.sold_at, c.sold_at) AS sold_at,
       COALESCE(a.transaction_id, c.transaction_id) AS transaction_id,
       COALESCE(a.product_sku, c.product_sku) AS product_sku,
       COALESCE(a.product_name, c.product_name) AS product_name,
       COALESCE(a.event_id, c.event_id) AS event_id
FROM current AS c LEFT JOIN assigned AS a ON true
"""


async def assign(
    conn: psycopg.AsyncConnection, tenant_id: str, code: str, customer_id: str, provenance: Provenance
) -> dict[str, Any] | None:
    """Link the code to the customer if it is free; return the row as stored plus previous_customer_id."""
    cur = await conn.execute(
        _ASSIGN,
        {
            "tenant_id": tenant_id,
            "code": code,
            "customer_id": customer_id,
            "sold_at": provenance.sold_at,
            "transaction_id": provenance.transaction_id or None,
            "product_sku": provenance.product_sku or None,
            "product_name": provenance.product_name or None,
            "event_id": provenance.event_id or None,
        },
    )
    return await cur.fetchone()


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
