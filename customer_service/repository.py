"""SQL for the customers table. Every query is scoped to a tenant."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from customer_service.domain import CUSTOMER_FIELDS, IDENTITY_FIELDS, CustomerFields

_COLUMNS = sql.SQL(", ").join(
    sql.Identifier(c)
    for c in ("id", "tenant_id", *CUSTOMER_FIELDS, "created_at", "updated_at", "data_observed_at")
)


# Advisory locks on the batch's contact values, taken first and in sorted order: two batches that carry
# the same buyer (or the same e-mail...) queue one behind the other, so neither inserts a customer the
# other is inserting (no unique violation) and neither waits for the other while holding what it needs
# (no deadlock). Keys are 64-bit hashes in this namespace; a collision only makes two batches queue.
# A batch with very many values folds them into MAX_IDENTITY_LOCKS buckets to bound the lock table.
_LOCK_NAMESPACE = b"autentikapp.customers.identity"
MAX_IDENTITY_LOCKS = 512
_LOCK_IDENTITIES = "SELECT now() AS now, count(pg_advisory_xact_lock(k)) AS locks FROM unnest(%s::bigint[]) AS k"


def identity_lock_keys(buyers: list[tuple[str, CustomerFields]]) -> list[int]:
    """The sorted advisory lock keys for the contact values of (tenant_id, buyer) pairs."""
    keys = set()
    for tenant_id, buyer in buyers:
        for name in IDENTITY_FIELDS:
            value = getattr(buyer, name)
            if value:
                digest = hashlib.blake2b(f"{tenant_id}\0{name}\0{value}".encode(), digest_size=8,
                                         key=_LOCK_NAMESPACE).digest()
                keys.add(int.from_bytes(digest, "big", signed=True))
    if len(keys) > MAX_IDENTITY_LOCKS:
        keys = {key % MAX_IDENTITY_LOCKS for key in keys}
    return sorted(keys)


async def lock_identities(conn: psycopg.AsyncConnection, buyers: list[tuple[str, CustomerFields]]) -> datetime:
    """Take the batch's advisory locks (until the transaction ends), in sorted order; return the
    transaction's now(), which every created_at/updated_at written in it equals."""
    cur = await conn.execute(_LOCK_IDENTITIES, (identity_lock_keys(buyers),))
    return (await cur.fetchone())["now"]


# One index lookup per contact value (each branch uses its unique partial index), then the rows are
# locked in id order: two batches that share customers lock them in the same order, so they wait for
# each other instead of deadlocking.
_LOCK_CANDIDATES = sql.SQL("""
SELECT {cols} FROM customers WHERE id IN (
    SELECT c.id FROM customers AS c
    JOIN unnest(%(nid_tenants)s::text[], %(nids)s::text[]) AS k(tenant_id, value)
      ON c.tenant_id = k.tenant_id AND c.national_id = k.value
    WHERE c.national_id IS NOT NULL
    UNION ALL
    SELECT c.id FROM customers AS c
    JOIN unnest(%(email_tenants)s::text[], %(emails)s::text[]) AS k(tenant_id, value)
      ON c.tenant_id = k.tenant_id AND c.email = k.value
    WHERE c.email IS NOT NULL
    UNION ALL
    SELECT c.id FROM customers AS c
    JOIN unnest(%(phone_tenants)s::text[], %(phones)s::text[]) AS k(tenant_id, value)
      ON c.tenant_id = k.tenant_id AND c.phone_number = k.value
    WHERE c.phone_number IS NOT NULL
)
ORDER BY id
FOR NO KEY UPDATE
""")


async def lock_candidates(
    conn: psycopg.AsyncConnection, buyers: list[tuple[str, CustomerFields]]
) -> list[dict[str, Any]]:
    """Every customer sharing a contact value with any of the (tenant_id, buyer) pairs, locked until the
    transaction ends; one statement for the whole batch."""
    params: dict[str, list[str]] = {}
    for key, name in (("nid", "national_id"), ("email", "email"), ("phone", "phone_number")):
        pairs = sorted({(tenant_id, getattr(buyer, name)) for tenant_id, buyer in buyers if getattr(buyer, name)})
        params[f"{key}_tenants"] = [tenant_id for tenant_id, _ in pairs]
        params[f"{key}s"] = [value for _, value in pairs]
    cur = await conn.execute(_LOCK_CANDIDATES.format(cols=_COLUMNS), params)
    return await cur.fetchall()


# Whole rows of a batch, as one JSON array (see identifier_service.repository for why JSON).
_ROW_COLUMNS = ("id", "tenant_id", *CUSTOMER_FIELDS, "created_at", "updated_at", "data_observed_at")
_ROW_TYPES = sql.SQL(", ").join(
    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(
        "uuid" if c == "id" else "timestamptz" if c.endswith("_at") else "text"))
    for c in _ROW_COLUMNS
)
_INSERT_ROWS = sql.SQL(
    "INSERT INTO customers ({cols}) SELECT {cols} FROM jsonb_to_recordset(%s::jsonb) AS x({types})"
).format(cols=sql.SQL(", ").join(map(sql.Identifier, _ROW_COLUMNS)), types=_ROW_TYPES)
_UPDATE_ROWS = sql.SQL(
    "UPDATE customers AS c SET {sets} FROM jsonb_to_recordset(%s::jsonb) AS x({types}) WHERE c.id = x.id"
).format(
    sets=sql.SQL(", ").join(
        sql.SQL("{0} = x.{0}").format(sql.Identifier(c)) for c in _ROW_COLUMNS if c not in ("id", "tenant_id", "created_at")
    ),
    types=_ROW_TYPES,
)


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON values (ids and times as text)."""
    return {c: (str(row[c]) if c == "id" else row[c].isoformat() if c.endswith("_at") else row[c])
            for c in _ROW_COLUMNS}


async def write_rows(conn: psycopg.AsyncConnection, created: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
    """Store a batch's final rows: the changed ones first (a value one of them gives up may be taken by
    a new one), then the new ones; one statement each."""
    if changed:
        await conn.execute(_UPDATE_ROWS, (Jsonb([_json_row(row) for row in changed]),))
    if created:
        await conn.execute(_INSERT_ROWS, (Jsonb([_json_row(row) for row in created]),))


async def get(conn: psycopg.AsyncConnection, tenant_id: str, customer_id: str) -> dict[str, Any] | None:
    """One customer of the tenant by id."""
    cur = await conn.execute(
        sql.SQL("SELECT {cols} FROM customers WHERE tenant_id = %s AND id = %s").format(cols=_COLUMNS),
        (tenant_id, customer_id),
    )
    return await cur.fetchone()


async def find(conn: psycopg.AsyncConnection, tenant_id: str, field: str, value: str) -> dict[str, Any] | None:
    """One customer of the tenant by a normalised identity field."""
    cur = await conn.execute(
        sql.SQL("SELECT {cols} FROM customers WHERE tenant_id = %s AND {field} = %s").format(
            cols=_COLUMNS, field=sql.Identifier(field)
        ),
        (tenant_id, value),
    )
    return await cur.fetchone()


async def page(conn: psycopg.AsyncConnection, tenant_id: str, after: list[Any] | None, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` customers of the tenant after the (created_at, id) key, oldest first."""
    if after is None:
        cur = await conn.execute(
            sql.SQL("SELECT {cols} FROM customers WHERE tenant_id = %s ORDER BY created_at, id LIMIT %s").format(
                cols=_COLUMNS
            ),
            (tenant_id, limit),
        )
    else:
        cur = await conn.execute(
            sql.SQL(
                "SELECT {cols} FROM customers WHERE tenant_id = %s AND (created_at, id) > (%s::timestamptz, %s::uuid)"
                " ORDER BY created_at, id LIMIT %s"
            ).format(cols=_COLUMNS),
            (tenant_id, after[0], after[1], limit),
        )
    return await cur.fetchall()
