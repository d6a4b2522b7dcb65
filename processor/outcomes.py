"""The outcomes store, owned by the processor: what happened to each event, for operators and replays.

One row per event id in `event_outcomes` (processor/migrations), written with an upsert, so processing
an event again rewrites its row instead of adding one. Only the processor and its CLI command
(`autentikapp events show`) read or write this database.
"""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from common.batch_rpc import rounds
from common.errors import Unavailable

MIGRATIONS = Path(__file__).parent / "migrations"

# Event statuses.
PROCESSED = "processed"
DEAD_LETTERED = "dead_lettered"

# Line item outcomes (docs/design.md "Processing rules"; `skipped` is an item without a code,
# `unidentified_buyer` a coded item of a sale whose buyer no value identified: linked to nobody). A sale's
# item is `released` when its sale was refunded or voided first; a refund's or void's items (one per code
# it named or released) are `released` or `not_held` (free, or held through another sale: untouched).
ASSIGNED = "assigned"
ALREADY_ASSIGNED = "already_assigned"
CONFLICT = "conflict"
UNKNOWN_CODE = "unknown_code"
SKIPPED = "skipped"
UNIDENTIFIED_BUYER = "unidentified_buyer"
RELEASED = "released"
NOT_HELD = "not_held"
LINE_ITEM_OUTCOMES = (ASSIGNED, ALREADY_ASSIGNED, CONFLICT, UNKNOWN_CODE, SKIPPED, UNIDENTIFIED_BUYER, RELEASED,
                      NOT_HELD)


@dataclass(frozen=True)
class LineItemOutcome:
    """What happened to one line item of the sale (index = its position in the sale)."""

    index: int
    code: str
    product_sku: str
    outcome: str


@dataclass
class EventOutcome:
    """The recorded result of one event; the two timestamps are set by the database."""

    event_id: str
    tenant_id: str
    status: str
    deliveries: int = 0
    customer_id: str | None = None
    customer_created: bool = False
    clashes: list[dict[str, str]] = field(default_factory=list)
    line_items: list[LineItemOutcome] = field(default_factory=list)
    reason: str | None = None
    # The buyer's values set aside as identifying nobody: [{"field": ..., "reason": ...}].
    ignored_identity: list[dict[str, str]] = field(default_factory=list)
    # What the event did that other services hear about (IdentifierEvent messages): published after the
    # outcome is recorded (processor/domain_events.py); not stored in the outcome.
    effects: list[Any] = field(default_factory=list, repr=False, compare=False)
    first_processed_at: datetime | None = None
    processed_at: datetime | None = None

    def counts(self) -> dict[str, int]:
        """Line items per outcome, in the fixed outcome order (only outcomes that occur)."""
        seen = collections.Counter(item.outcome for item in self.line_items)
        return {name: seen[name] for name in LINE_ITEM_OUTCOMES if seen[name]}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: timestamps in ISO 8601 (UTC), line items as objects."""
        data = asdict(self)
        data.pop("effects")
        for key in ("first_processed_at", "processed_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


# Many outcomes in one statement (keys unique within it: common.batch_rpc.rounds), sent as one JSON array
# (json.dumps is far cheaper than adapting nine Python lists to Postgres arrays).
_UPSERT = """
INSERT INTO event_outcomes AS o (event_id, tenant_id, status, customer_id, customer_created, clashes,
                                 line_items, reason, deliveries, ignored_identity)
SELECT event_id, tenant_id, status, customer_id, customer_created, clashes, line_items, reason, deliveries,
       ignored_identity
FROM jsonb_to_recordset(%(outcomes)s::jsonb)
    AS x(event_id text, tenant_id text, status text, customer_id uuid, customer_created boolean, clashes jsonb,
         line_items jsonb, reason text, deliveries integer, ignored_identity jsonb)
ON CONFLICT (event_id) DO UPDATE SET
    tenant_id = EXCLUDED.tenant_id,
    status = EXCLUDED.status,
    customer_id = EXCLUDED.customer_id,
    -- A redelivery finds the customer it created the first time: "created" stays true.
    customer_created = EXCLUDED.customer_created
        OR (o.customer_created AND o.customer_id IS NOT DISTINCT FROM EXCLUDED.customer_id),
    clashes = EXCLUDED.clashes,
    line_items = EXCLUDED.line_items,
    reason = EXCLUDED.reason,
    deliveries = EXCLUDED.deliveries,
    ignored_identity = EXCLUDED.ignored_identity,
    processed_at = now()
RETURNING event_id, first_processed_at, processed_at
"""

_SELECT = """
SELECT event_id, tenant_id, status, customer_id, customer_created, clashes, line_items, reason, deliveries,
       ignored_identity, first_processed_at, processed_at
FROM event_outcomes WHERE event_id = %s
"""


async def record(conn: psycopg.AsyncConnection, outcome: EventOutcome) -> None:
    """Insert or rewrite the event's row; fills in the outcome's two timestamps."""
    await record_many(conn, [outcome])


async def record_many(conn: psycopg.AsyncConnection, batch: list[EventOutcome]) -> None:
    """Insert or rewrite each event's row, one statement per round (an event twice in the batch is
    written twice, in order); fills in each outcome's two timestamps."""
    for round_ in rounds([outcome.event_id for outcome in batch]):
        chosen = [batch[i] for i in round_]
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(_UPSERT, {"outcomes": Jsonb([
            {"event_id": o.event_id, "tenant_id": o.tenant_id, "status": o.status, "customer_id": o.customer_id or None,
             "customer_created": o.customer_created, "clashes": o.clashes,
             "line_items": [asdict(item) for item in o.line_items], "reason": o.reason, "deliveries": o.deliveries,
             "ignored_identity": o.ignored_identity}
            for o in chosen
        ])})
        stamps = {row["event_id"]: (row["first_processed_at"], row["processed_at"]) for row in await cur.fetchall()}
        for outcome in chosen:
            outcome.first_processed_at, outcome.processed_at = stamps[outcome.event_id]


async def get(conn: psycopg.AsyncConnection, event_id: str) -> EventOutcome | None:
    """The event's recorded outcome, or None when none was recorded."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_SELECT, (event_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return EventOutcome(
        event_id=row["event_id"],
        tenant_id=row["tenant_id"],
        status=row["status"],
        deliveries=row["deliveries"],
        customer_id=str(row["customer_id"]) if row["customer_id"] else None,
        customer_created=row["customer_created"],
        clashes=list(row["clashes"]),
        line_items=[LineItemOutcome(**item) for item in row["line_items"]],
        reason=row["reason"],
        ignored_identity=list(row["ignored_identity"]),
        first_processed_at=row["first_processed_at"],
        processed_at=row["processed_at"],
    )


async def read(url: str, event_id: str, timeout: float = 10.0) -> EventOutcome | None:
    """One event's outcome over a short-lived connection (for the CLI, which has no pool).

    An unreachable database becomes Unavailable, with no password in the message.
    """
    try:
        connect = psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=max(1, round(timeout)))
        async with await connect as conn:
            return await get(conn, event_id)
    except psycopg.errors.UndefinedTable:
        raise Unavailable("the processor's database has no event_outcomes table: run `python -m processor migrate`") from None
    except psycopg.OperationalError as exc:
        raise Unavailable(f"the processor's database is unavailable: {exc.sqlstate or type(exc).__name__}") from None
