"""SQL for the identifiers, their release intents and their history. Every query is scoped to a tenant."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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
# read the committed holder; `released` finds the items whose sale has a recorded release covering the
# code (the code itself, or the whole transaction: ''); `assigned` writes only where the code is free
# and not released, and `linked` records each new link in the history. previous_customer_id tells: no
# row = unknown_code, NULL = assigned now, the same customer = already_assigned, another = conflict;
# `released` overrides the last three. The batch arrives as one JSON array (json.dumps is far cheaper
# than adapting eight Python lists to Postgres arrays); `n` is each item's position in it (1-based).
# The intents are read with the statement's snapshot: lock_transactions, run before, makes a concurrent
# release of the same transactions commit first or wait for this one.
_ASSIGN = """
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
), released AS (
    SELECT x.n FROM input AS x
    WHERE x.transaction_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM transaction_releases AS r
        WHERE r.tenant_id = x.tenant_id AND r.transaction_id = x.transaction_id AND r.code IN (x.code, ''))
), assigned AS (
    UPDATE identifiers AS i
    SET customer_id = x.customer_id, assigned_at = now(), sold_at = x.sold_at,
        transaction_id = x.transaction_id, product_sku = x.product_sku,
        product_name = x.product_name, event_id = x.event_id
    FROM current AS c JOIN input AS x ON x.n = c.n
    WHERE i.tenant_id = c.tenant_id AND i.code = c.code AND c.customer_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM released AS r WHERE r.n = c.n)
    RETURNING i.*
), linked AS (
    INSERT INTO identifier_history (tenant_id, code, action, customer_id, transaction_id, event_id, at)
    SELECT tenant_id, code, 'linked', customer_id, transaction_id, event_id, sold_at FROM assigned
)
SELECT c.n, c.customer_id AS previous_customer_id,
       EXISTS (SELECT 1 FROM released AS r WHERE r.n = c.n) AS released,
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


# Assignments and releases of one sale's transaction are serialised with a transaction-scoped advisory
# lock per (tenant, transaction): shared for AssignIdentifiers (assignments never wait for each other),
# exclusive for ReleaseIdentifiers. Without it, a release and a sale of the same transaction running at
# once could each miss the other (the release not seeing the uncommitted link, the sale not seeing the
# uncommitted intent) and leave a code linked through a released sale. The locks are taken in key order,
# before any row lock, in a statement of their own, so the statement that follows reads with a snapshot
# taken after the other side committed. Two-key form: class TRANSACTION_LOCK_CLASS, 32-bit hash of the
# pair (a collision only makes two transactions queue together). A batch with very many transactions
# folds them into MAX_TRANSACTION_LOCKS buckets, so that it cannot fill Postgres's shared lock table
# (max_locks_per_transaction x max_connections entries for every session together).
TRANSACTION_LOCK_CLASS = 0x11D5A1E5
MAX_TRANSACTION_LOCKS = 256


def transaction_lock_keys(pairs: Iterable[tuple[str, str]]) -> list[int]:
    """The advisory lock keys of the (tenant_id, transaction_id) pairs, distinct and sorted."""
    keys = set()
    for tenant_id, transaction_id in pairs:
        digest = hashlib.blake2b(f"{tenant_id}\x00{transaction_id}".encode(), digest_size=4).digest()
        keys.add(int.from_bytes(digest, "big", signed=True))
    if len(keys) > MAX_TRANSACTION_LOCKS:
        keys = {key % MAX_TRANSACTION_LOCKS for key in keys}
    return sorted(keys)


async def lock_transactions(conn: psycopg.AsyncConnection, pairs: Iterable[tuple[str, str]], *, shared: bool) -> None:
    """Take the advisory lock of each (tenant_id, transaction_id) until the end of the transaction."""
    keys = transaction_lock_keys(pairs)
    if keys:
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        await conn.execute(f"SELECT count({function}(%s, k)) FROM unnest(%s::int4[]) AS k",
                           (TRANSACTION_LOCK_CLASS, keys))


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


@dataclass(frozen=True)
class Release:
    """A refund or void of one sale: its codes (empty: every code held through the transaction)."""

    tenant_id: str
    transaction_id: str
    codes: tuple[str, ...]
    event_id: str
    kind: str  # 'refund' | 'void'
    released_at: datetime


async def allow_releases(conn: psycopg.AsyncConnection, releases: list[Release]) -> None:
    """Take the releases' transaction locks (exclusive) and tell the guard (migration 002) which
    (tenant, transaction) pairs this database transaction releases; both last until it ends."""
    pairs = sorted({(r.tenant_id, r.transaction_id) for r in releases})
    releasing = json.dumps([{"tenant_id": t, "transaction_id": x} for t, x in pairs])
    await conn.execute("SELECT set_config('autentikapp.releasing_transactions', %s, true)", (releasing,))
    await lock_transactions(conn, pairs, shared=False)


# One statement makes every release of a round (one item per (tenant, transaction) in a round:
# common.batch_rpc.rounds). `intents` records each release (one row per named code, or '' for the whole
# transaction; the same event again inserts nothing); `wanted` is what each item names, or for a whole
# transaction the codes held through it; `locked` locks those rows in key order, as AssignIdentifiers
# does; `released` clears only the links made through the item's own transaction (release, never steal)
# and `history` records each; `earlier` finds what the same event released before (a redelivery
# answers RELEASED again). The answer: per named code (n, ord) its outcome; per whole-transaction item
# (ord NULL) each code it released, now or before.
_RELEASE = """
WITH item AS (
    SELECT * FROM jsonb_to_recordset(%(items)s::jsonb)
        AS x(n integer, tenant_id text, transaction_id text, whole boolean, kind text, event_id text,
             released_at timestamptz)
), named AS (
    SELECT * FROM jsonb_to_recordset(%(codes)s::jsonb) AS y(n integer, ord integer, code text)
), intents AS (
    INSERT INTO transaction_releases (tenant_id, transaction_id, code, event_id, kind, released_at)
    SELECT x.tenant_id, x.transaction_id, '', x.event_id, x.kind, x.released_at FROM item AS x WHERE x.whole
    UNION ALL
    SELECT x.tenant_id, x.transaction_id, y.code, x.event_id, x.kind, x.released_at
    FROM named AS y JOIN item AS x ON x.n = y.n
    ON CONFLICT DO NOTHING
), wanted AS (
    SELECT y.n, x.tenant_id, y.code FROM named AS y JOIN item AS x ON x.n = y.n
    UNION ALL
    SELECT x.n, x.tenant_id, i.code
    FROM item AS x JOIN identifiers AS i ON i.tenant_id = x.tenant_id AND i.transaction_id = x.transaction_id
    WHERE x.whole AND i.customer_id IS NOT NULL
), locked AS (
    SELECT w.n, i.tenant_id, i.code, i.customer_id, i.transaction_id
    FROM identifiers AS i JOIN wanted AS w ON i.tenant_id = w.tenant_id AND i.code = w.code
    ORDER BY i.tenant_id, i.code
    FOR NO KEY UPDATE OF i
), released AS (
    UPDATE identifiers AS i
    SET customer_id = NULL, assigned_at = NULL, sold_at = NULL, transaction_id = NULL, product_sku = NULL,
        product_name = NULL, event_id = NULL
    FROM locked AS l JOIN item AS x ON x.n = l.n
    WHERE i.tenant_id = l.tenant_id AND i.code = l.code
      AND l.customer_id IS NOT NULL AND l.transaction_id = x.transaction_id
    RETURNING x.n, i.tenant_id, i.code, l.customer_id, l.transaction_id, x.event_id, x.released_at, x.kind
), history AS (
    INSERT INTO identifier_history (tenant_id, code, action, customer_id, transaction_id, event_id, at, kind)
    SELECT tenant_id, code, 'released', customer_id, transaction_id, event_id, released_at, kind FROM released
), earlier AS (
    SELECT DISTINCT x.n, h.code, h.customer_id
    FROM item AS x JOIN identifier_history AS h
        ON h.tenant_id = x.tenant_id AND h.transaction_id = x.transaction_id AND h.event_id = x.event_id
    WHERE h.action = 'released'
)
SELECT y.n, y.ord, y.code,
       CASE WHEN NOT EXISTS (SELECT 1 FROM locked AS l WHERE l.n = y.n AND l.code = y.code) THEN 'unknown_code'
            WHEN EXISTS (SELECT 1 FROM released AS r WHERE r.n = y.n AND r.code = y.code)
              OR EXISTS (SELECT 1 FROM earlier AS e WHERE e.n = y.n AND e.code = y.code) THEN 'released'
            ELSE 'not_held' END AS outcome,
       COALESCE((SELECT r.customer_id FROM released AS r WHERE r.n = y.n AND r.code = y.code),
                (SELECT e.customer_id FROM earlier AS e WHERE e.n = y.n AND e.code = y.code LIMIT 1)) AS customer_id
FROM named AS y
UNION ALL
SELECT w.n, NULL, w.code, 'released', w.customer_id
FROM (SELECT n, code, customer_id FROM released UNION SELECT n, code, customer_id FROM earlier) AS w
    JOIN item AS x ON x.n = w.n
WHERE x.whole
"""


async def release(conn: psycopg.AsyncConnection, releases: list[Release]) -> list[list[tuple[str, str, str]]]:
    """Make the releases (at most one per (tenant, transaction)) in one statement, after allow_releases
    in the same transaction; per release, (code, outcome, customer id released from, "" if none) triples:
    the codes named in their order, or the codes released (now or by an earlier delivery of the same event)
    in code order."""
    items, codes = [], []
    for n, r in enumerate(releases, start=1):
        items.append({"n": n, "tenant_id": r.tenant_id, "transaction_id": r.transaction_id, "whole": not r.codes,
                      "kind": r.kind, "event_id": r.event_id, "released_at": r.released_at.isoformat()})
        codes.extend({"n": n, "ord": ord_, "code": code} for ord_, code in enumerate(r.codes))
    cur = await conn.execute(_RELEASE, {"items": Jsonb(items), "codes": Jsonb(codes)})
    answers: list[list[tuple[Any, str, str, str]]] = [[] for _ in releases]
    for row in await cur.fetchall():
        customer = str(row["customer_id"]) if row["customer_id"] else ""
        answers[row["n"] - 1].append((row["ord"], row["code"], row["outcome"], customer))
    return [[(code, outcome, customer)
             for _, code, outcome, customer in sorted(a, key=lambda e: (e[0] is not None, e[0] or 0, e[1]))]
            for a in answers]


HISTORY_COLUMNS = "id, tenant_id, code, action, customer_id, transaction_id, event_id, at, recorded_at, kind"


async def history_page(
    conn: psycopg.AsyncConnection, tenant_id: str, code: str, after: int | None, limit: int
) -> list[dict[str, Any]] | None:
    """Up to `limit` history entries of one code after id `after`, oldest first; None for a code the
    tenant does not have."""
    cur = await conn.execute(
        f"""SELECT {HISTORY_COLUMNS} FROM identifier_history
            WHERE tenant_id = %(tenant_id)s AND code = %(code)s AND id > %(after)s ORDER BY id LIMIT %(limit)s""",
        {"tenant_id": tenant_id, "code": code, "after": after or 0, "limit": limit},
    )
    rows = await cur.fetchall()
    if not rows and await get(conn, tenant_id, code) is None:
        return None
    return rows
