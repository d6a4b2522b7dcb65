"""SQL for the customers table. Every query is scoped to a tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from customer_service.domain import CUSTOMER_FIELDS, CustomerFields

_COLUMNS = sql.SQL(", ").join(
    sql.Identifier(c)
    for c in ("id", "tenant_id", *CUSTOMER_FIELDS, "created_at", "updated_at", "data_observed_at")
)


async def lock_candidates(conn: psycopg.AsyncConnection, tenant_id: str, incoming: CustomerFields) -> list[dict[str, Any]]:
    """Every customer sharing a contact value with the event, locked until the transaction ends."""
    cur = await conn.execute(
        sql.SQL(
            "SELECT {cols} FROM customers WHERE tenant_id = %(tenant)s"
            " AND (national_id = %(national_id)s OR email = %(email)s OR phone_number = %(phone)s)"
            " ORDER BY id FOR NO KEY UPDATE"
        ).format(cols=_COLUMNS),
        {
            "tenant": tenant_id,
            "national_id": incoming.national_id or None,
            "email": incoming.email or None,
            "phone": incoming.phone_number or None,
        },
    )
    return await cur.fetchall()


async def insert(conn: psycopg.AsyncConnection, tenant_id: str, values: dict[str, str], observed_at: datetime) -> dict[str, Any]:
    """Insert a new customer; a concurrent insert of the same buyer raises UniqueViolation."""
    names = ["tenant_id", *values, "data_observed_at"]
    cur = await conn.execute(
        sql.SQL("INSERT INTO customers ({names}) VALUES ({params}) RETURNING {cols}").format(
            names=sql.SQL(", ").join(map(sql.Identifier, names)),
            params=sql.SQL(", ").join(sql.Placeholder(n) for n in names),
            cols=_COLUMNS,
        ),
        {"tenant_id": tenant_id, **values, "data_observed_at": observed_at},
    )
    return await cur.fetchone()


async def update(conn: psycopg.AsyncConnection, customer_id: Any, values: dict[str, Any], observed_at: datetime) -> dict[str, Any]:
    """Write the planned changes to one (locked) customer and bump updated_at."""
    assignments = [sql.SQL("{} = {}").format(sql.Identifier(n), sql.Placeholder(n)) for n in values]
    assignments += [sql.SQL("data_observed_at = %(data_observed_at)s"), sql.SQL("updated_at = now()")]
    cur = await conn.execute(
        sql.SQL("UPDATE customers SET {sets} WHERE id = %(id)s RETURNING {cols}").format(
            sets=sql.SQL(", ").join(assignments), cols=_COLUMNS
        ),
        {**values, "data_observed_at": observed_at, "id": customer_id},
    )
    return await cur.fetchone()


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
