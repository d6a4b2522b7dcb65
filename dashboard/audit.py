"""The audit log: who changed what, and when, written in the same transaction as the change it records.

A change made elsewhere through the gateway's API (a secret created or revoked) is recorded right after
the API said it was done: the two are in different databases, so they cannot share a transaction.
`details` must never carry a secret, a password or a session token; `record` refuses keys that look
like one, so a careless caller fails in the tests instead of leaking into the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from dashboard import metrics

_FORBIDDEN_KEY = re.compile(r"secret|password|token|hash|cookie", re.IGNORECASE)
_ALLOWED_KEYS = frozenset({"secret_id"})  # the id of a secret names it without revealing it


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a dashboard user (id and e-mail), or an operator's tool (`user_id` None)."""

    label: str
    user_id: int | None = None

    @classmethod
    def user(cls, user_id: int, email: str) -> "Actor":
        return cls(f"user:{user_id} {email}", user_id)

    @classmethod
    def cli(cls, name: str) -> "Actor":
        return cls(f"cli:{name}")


@dataclass(frozen=True)
class AuditEntry:
    """One line of the log, as an admin reads it."""

    id: int
    tenant_id: str
    user_id: int | None
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    at: datetime


def check_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """`details` as a dict, refusing (ValueError) any key, at any depth, that could hold a secret."""
    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if _FORBIDDEN_KEY.search(str(key)) and key not in _ALLOWED_KEYS:
                    raise ValueError(f"audit details must not carry {key!r}")
                walk(inner)
        elif isinstance(value, (list, tuple)):
            for inner in value:
                walk(inner)
    walk(details)
    return dict(details)


def record(conn: psycopg.Connection, *, tenant_id: str, actor: Actor, action: str, at: datetime,
           target: str = "", details: Mapping[str, Any] | None = None) -> None:
    """Append one entry on `conn` (inside the caller's transaction, when it has one)."""
    conn.execute(
        """INSERT INTO audit_log (tenant_id, user_id, actor, action, target, details, at)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (tenant_id, actor.user_id, actor.label, action, target, Jsonb(check_details(details or {})), at))
    metrics.CHANGES.labels(action).inc()


def entries(conn: psycopg.Connection, tenant_id: str, *, limit: int = 50,
            before_id: int | None = None) -> list[AuditEntry]:
    """The tenant's entries, newest first, `limit` at a time (`before_id`: the last id of the page before)."""
    rows = conn.execute(
        """SELECT id, tenant_id, user_id, actor, action, target, details, at FROM audit_log
           WHERE tenant_id = %s AND (%s::bigint IS NULL OR id < %s)
           ORDER BY id DESC LIMIT %s""",
        (tenant_id, before_id, before_id, limit)).fetchall()
    return [AuditEntry(**row) for row in rows]
