"""SQL for the customers table, the customers' history and the erasure tables. Every query is scoped to a
tenant."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from customer_service.domain import CUSTOMER_FIELDS, IDENTITY_FIELDS, CustomerFields

# erased_at is read, never written by an upsert (a tombstone holds no value, so it is never a candidate).
_COLUMNS = sql.SQL(", ").join(
    sql.Identifier(c)
    for c in ("id", "tenant_id", *CUSTOMER_FIELDS, "created_at", "updated_at", "data_observed_at", "erased_at")
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


# The history rows of a batch (docs/design.md "Customer history"), sent as one JSON array of the items
# that wrote them (an item's rows share customer, event and times: one object with its fields and
# values, a quarter of the JSON of one object per row) and expanded in SQL in their order (WITH
# ORDINALITY ... ORDER BY), so their ids (the history's order) follow the batch's items and fields.
_INSERT_HISTORY = """
INSERT INTO customer_history (customer_id, tenant_id, field, value, event_id, observed_at, recorded_at)
SELECT i.customer_id, i.tenant_id, f.field, f.value, i.event_id, i.observed_at, i.recorded_at
FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS (customer_id uuid, tenant_id text, event_id text,
                                                 observed_at timestamptz, recorded_at timestamptz,
                                                 fields text[], vals text[]))
     WITH ORDINALITY AS i(customer_id, tenant_id, event_id, observed_at, recorded_at, fields, vals, n)
CROSS JOIN LATERAL unnest(i.fields, i.vals) WITH ORDINALITY AS f(field, value, m)
ORDER BY i.n, f.m
"""


def _json_history(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """History rows as JSON: consecutive rows of one customer, event and times as one object with the
    lists of their fields and values (the customer id and times as text)."""
    items: list[dict[str, Any]] = []
    last: tuple[Any, ...] | None = None
    for row in rows:
        key = (row["customer_id"], row["tenant_id"], row["event_id"], row["observed_at"], row["recorded_at"])
        if key != last:
            last = key
            items.append({"customer_id": str(row["customer_id"]), "tenant_id": row["tenant_id"],
                          "event_id": row["event_id"], "observed_at": row["observed_at"].isoformat(),
                          "recorded_at": row["recorded_at"].isoformat(), "fields": [], "vals": []})
        items[-1]["fields"].append(row["field"])
        items[-1]["vals"].append(row["value"])
    return items


async def write_rows(conn: psycopg.AsyncConnection, created: list[dict[str, Any]], changed: list[dict[str, Any]],
                     history: Sequence[dict[str, Any]] = ()) -> None:
    """Store a batch's final rows: the changed ones first (a value one of them gives up may be taken by
    a new one), then the new ones, then the history rows of what the batch set or changed, in order; one
    statement each."""
    if changed:
        await conn.execute(_UPDATE_ROWS, (Jsonb([_json_row(row) for row in changed]),))
    if created:
        await conn.execute(_INSERT_ROWS, (Jsonb([_json_row(row) for row in created]),))
    if history:
        await conn.execute(_INSERT_HISTORY, (Jsonb(_json_history(history)),))


_HISTORY_PAGE = """
SELECT id, field, value, event_id, observed_at, recorded_at FROM customer_history
WHERE customer_id = %(customer_id)s AND tenant_id = %(tenant_id)s AND id > %(after)s
ORDER BY id LIMIT %(limit)s
"""


async def history_page(conn: psycopg.AsyncConnection, tenant_id: str, customer_id: str, after: int | None,
                       limit: int) -> list[dict[str, Any]]:
    """Up to `limit` history rows of the tenant's customer after the id `after`, in write order."""
    cur = await conn.execute(_HISTORY_PAGE, {"tenant_id": tenant_id, "customer_id": customer_id,
                                             "after": after if after is not None else 0, "limit": limit})
    return await cur.fetchall()


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


# The suppression list (docs/design.md "Erasure"): the newest erasure time of each listed digest.
_ERASED_DIGESTS = """
SELECT e.digest, max(e.erased_at) AS erased_at
FROM erased_identities AS e
JOIN unnest(%s::text[], %s::text[]) AS k(tenant_id, digest) ON e.tenant_id = k.tenant_id AND e.digest = k.digest
GROUP BY e.digest
"""


async def erased_digests(conn: psycopg.AsyncConnection, pairs: list[tuple[str, str]]) -> dict[str, datetime]:
    """digest -> erased_at for the (tenant_id, digest) pairs on the suppression list (the newest erasure
    when a value was erased more than once)."""
    if not pairs:
        return {}
    pairs = sorted(set(pairs))
    cur = await conn.execute(_ERASED_DIGESTS, ([t for t, _ in pairs], [d for _, d in pairs]))
    return {row["digest"]: row["erased_at"] for row in await cur.fetchall()}


async def lock_customer(conn: psycopg.AsyncConnection, tenant_id: str, customer_id: str) -> dict[str, Any] | None:
    """One customer of the tenant, locked (FOR UPDATE) until the transaction ends: an upsert that would
    touch it waits (its candidate lock conflicts) and then finds the row as this transaction left it."""
    cur = await conn.execute(
        sql.SQL("SELECT {cols} FROM customers WHERE tenant_id = %s AND id = %s FOR UPDATE").format(cols=_COLUMNS),
        (tenant_id, customer_id),
    )
    return await cur.fetchone()


_TOMBSTONE = sql.SQL(
    "UPDATE customers SET {blank}, erased_at = %(now)s, updated_at = %(now)s"
    " WHERE tenant_id = %(tenant_id)s AND id = %(id)s RETURNING {cols}"
).format(blank=sql.SQL(", ").join(sql.SQL("{} = NULL").format(sql.Identifier(c)) for c in CUSTOMER_FIELDS),
         cols=_COLUMNS)
_LIST_ERASED = """
INSERT INTO erased_identities (tenant_id, digest, customer_id, erased_at)
SELECT %(tenant_id)s, d, %(id)s, %(now)s FROM unnest(%(digests)s::text[]) AS d
ON CONFLICT DO NOTHING
"""
# The history keeps that an event touched the customer (field, event, times), not the value.
_ERASE_HISTORY = """
UPDATE customer_history SET value = NULL
WHERE customer_id = %(id)s AND tenant_id = %(tenant_id)s AND value IS NOT NULL
"""
_RECORD_ERASURE = """
INSERT INTO erasures (customer_id, tenant_id, requested_by, reason, erased_at, fields)
VALUES (%(id)s, %(tenant_id)s, %(requested_by)s, %(reason)s, %(now)s, %(fields)s)
"""


async def erase(conn: psycopg.AsyncConnection, row: dict[str, Any], *, digests: list[str], fields: list[str],
                requested_by: str, reason: str, now: datetime) -> dict[str, Any]:
    """Turn a locked customer row into its tombstone, delete the values of its history, put its digests on
    the suppression list and record who asked; return the tombstone. Four statements, in the caller's
    transaction."""
    params = {"tenant_id": row["tenant_id"], "id": row["id"], "now": now, "digests": digests, "fields": fields,
              "requested_by": requested_by, "reason": reason or None}
    cur = await conn.execute(_TOMBSTONE, params)
    tombstone = await cur.fetchone()
    await conn.execute(_ERASE_HISTORY, params)
    await conn.execute(_LIST_ERASED, params)
    await conn.execute(_RECORD_ERASURE, params)
    return tombstone


async def erasure_of(conn: psycopg.AsyncConnection, customer_id: Any) -> tuple[list[str], list[str]]:
    """An erased customer's erased fields (by name) and its digests on the suppression list."""
    cur = await conn.execute("SELECT fields FROM erasures WHERE customer_id = %s", (customer_id,))
    record = await cur.fetchone()
    cur = await conn.execute("SELECT digest FROM erased_identities WHERE customer_id = %s ORDER BY digest",
                             (customer_id,))
    return (list(record["fields"]) if record else []), [row["digest"] for row in await cur.fetchall()]
