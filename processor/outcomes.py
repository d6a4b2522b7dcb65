"""The outcomes store, owned by the processor: what happened to each event, for operators and replays.

One row per event id in `event_outcomes` (processor/migrations), written with an upsert, so processing
an event again rewrites its row instead of adding one. Only the processor (which also serves the outcomes
over gRPC: processor/outcome_api.py, reading them with `list_outcomes` and `get_for_tenant`) and its CLI
command (`autentikapp events show`) read or write this database.
"""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from common import ids, limits, paging
from common.batch_rpc import rounds
from common.errors import InvalidArgument, NotFound, Unavailable

MIGRATIONS = Path(__file__).parent / "migrations"

# Event statuses.
PROCESSED = "processed"
DEAD_LETTERED = "dead_lettered"
STATUSES = (PROCESSED, DEAD_LETTERED)

# Event types, as the sender names them (docs/design.md "Payload rules"): a sale, a refund, a void.
SALE = "transaction.created"
REFUND = "transaction.refunded"
VOID = "transaction.voided"

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

    def as_json(self) -> dict[str, Any]:
        """Its stored form (a member of the row's line_items): dataclasses.asdict's answer, without its
        recursive deep copy (ten times slower, per line item of every event)."""
        return {"index": self.index, "code": self.code, "product_sku": self.product_sku, "outcome": self.outcome}


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
    # The sender's transaction id and the event type (SALE, REFUND, VOID); None when unknown (an outcome
    # recorded before they were kept, a dead letter that does not decode).
    transaction_id: str | None = None
    event_type: str | None = None
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
                                 line_items, reason, deliveries, ignored_identity, transaction_id, event_type)
SELECT event_id, tenant_id, status, customer_id, customer_created, clashes, line_items, reason, deliveries,
       ignored_identity, transaction_id, event_type
FROM jsonb_to_recordset(%(outcomes)s::jsonb)
    AS x(event_id text, tenant_id text, status text, customer_id uuid, customer_created boolean, clashes jsonb,
         line_items jsonb, reason text, deliveries integer, ignored_identity jsonb, transaction_id text,
         event_type text)
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
    -- One event id is one sale, refund or void: a record that does not know them (a dead letter that
    -- does not decode) keeps what an earlier one knew.
    transaction_id = COALESCE(EXCLUDED.transaction_id, o.transaction_id),
    event_type = COALESCE(EXCLUDED.event_type, o.event_type),
    processed_at = now()
RETURNING event_id, first_processed_at, processed_at
"""

_COLUMNS = """event_id, tenant_id, status, customer_id, customer_created, clashes, line_items, reason, deliveries,
       ignored_identity, transaction_id, event_type, first_processed_at, processed_at"""
_SELECT = f"SELECT {_COLUMNS} FROM event_outcomes WHERE event_id = %s"
_SELECT_FOR_TENANT = f"SELECT {_COLUMNS} FROM event_outcomes WHERE event_id = %s AND tenant_id = %s"


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
             "line_items": [item.as_json() for item in o.line_items], "reason": o.reason, "deliveries": o.deliveries,
             "ignored_identity": o.ignored_identity, "transaction_id": o.transaction_id or None,
             "event_type": o.event_type or None}
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
    return None if row is None else _from_row(row)


def _from_row(row: dict[str, Any]) -> EventOutcome:
    """A stored row as an EventOutcome."""
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
        transaction_id=row["transaction_id"],
        event_type=row["event_type"],
        first_processed_at=row["first_processed_at"],
        processed_at=row["processed_at"],
    )


async def get_for_tenant(conn: psycopg.AsyncConnection, tenant_id: str, event_id: str) -> EventOutcome:
    """One event's outcome, scoped to its tenant: NotFound when none was recorded, or when the event is
    another tenant's (the same answer, so another tenant's event ids are not revealed); InvalidArgument
    for a malformed tenant id or event id."""
    ids.tenant_id(tenant_id)
    if not event_id:
        raise InvalidArgument("event_id is required", "event_id")
    if not ids.is_event_id(event_id):
        raise InvalidArgument(f"event_id must be 1-{limits.MAX_EVENT_ID} printable ASCII characters without spaces",
                              "event_id")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_SELECT_FOR_TENANT, (event_id, tenant_id))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no outcome recorded for event {event_id} of tenant {tenant_id!r}")
    return _from_row(row)


# The listing (EventOutcomeService.ListEventOutcomes): page sizes, and the expression its line item filter
# uses, the very one migration 003 indexes.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_LINE_ITEM_OUTCOMES = sql.SQL("jsonb_path_query_array(line_items, '$[*].outcome')")


@dataclass(frozen=True)
class OutcomeQuery:
    """One page of one tenant's outcomes to read, checked (`outcome_query` builds it); "" = no filter."""

    tenant_id: str
    status: str = ""
    line_item_outcome: str = ""
    transaction_id: str = ""
    page_size: int = DEFAULT_PAGE_SIZE
    after: tuple[str, str] | None = None  # the (processed_at, event_id) of the previous page's last row

    def scope(self) -> dict[str, str]:
        """What a page token is bound to: the tenant and every filter."""
        return {"tenant": self.tenant_id, "status": self.status, "line_item_outcome": self.line_item_outcome,
                "transaction_id": self.transaction_id}


def outcome_query(tenant_id: str, *, status: str = "", line_item_outcome: str = "", transaction_id: str = "",
                  page_size: int = 0, page_token: str = "") -> OutcomeQuery:
    """The listing's arguments, checked before any SQL: InvalidArgument naming the field for a malformed
    tenant id, an unknown status or line item outcome (with the allowed values), a transaction id no sale
    could have, a page_size outside 1..MAX_PAGE_SIZE (0 means DEFAULT_PAGE_SIZE), or a page token that is
    not ours or was issued for another tenant or other filters."""
    ids.tenant_id(tenant_id)
    if status and status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)} (or empty for all)", "status")
    if line_item_outcome and line_item_outcome not in LINE_ITEM_OUTCOMES:
        raise InvalidArgument(f"line_item_outcome must be one of {', '.join(LINE_ITEM_OUTCOMES)} (or empty for all)",
                              "line_item_outcome")
    if len(transaction_id) > limits.MAX_TRANSACTION_ID or "\x00" in transaction_id:
        raise InvalidArgument(f"transaction_id must be at most {limits.MAX_TRANSACTION_ID} characters, without NUL",
                              "transaction_id")
    page_size = paging.page_size(page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    query = OutcomeQuery(tenant_id, status, line_item_outcome, transaction_id, page_size)
    after = paging.decode(page_token, query.scope(), (paging.timestamp, paging.text))
    if after is None:
        return query
    return OutcomeQuery(tenant_id, status, line_item_outcome, transaction_id, page_size, (after[0], after[1]))


@dataclass(frozen=True)
class OutcomePage:
    """One page of outcomes, newest processed first, and the token of the next ("" on the last page)."""

    outcomes: list[EventOutcome]
    next_page_token: str


async def list_outcomes(conn: psycopg.AsyncConnection, query: OutcomeQuery) -> OutcomePage:
    """One page of the tenant's outcomes, newest processed first (processed_at, then event id, both
    descending), with the query's filters. An outcome recorded again (a redelivery, a replay) moves to
    the front: a listing in progress may miss it or show it twice."""
    conditions = [sql.SQL("tenant_id = %(tenant)s")]
    if query.status:
        conditions.append(sql.SQL("status = %(status)s"))
    if query.transaction_id:
        conditions.append(sql.SQL("transaction_id = %(transaction)s"))
    if query.line_item_outcome:
        conditions.append(sql.SQL("{} @> %(outcome)s").format(_LINE_ITEM_OUTCOMES))
    if query.after is not None:
        conditions.append(sql.SQL("(processed_at, event_id) < (%(after_at)s::timestamptz, %(after_id)s)"))
    statement = sql.SQL("SELECT {columns} FROM event_outcomes WHERE {where} "
                        "ORDER BY processed_at DESC, event_id DESC LIMIT %(limit)s").format(
        columns=sql.SQL(_COLUMNS), where=sql.SQL(" AND ").join(conditions))
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(statement, {
        "tenant": query.tenant_id, "status": query.status, "transaction": query.transaction_id,
        "outcome": Jsonb([query.line_item_outcome]), "after_at": query.after[0] if query.after else None,
        "after_id": query.after[1] if query.after else None, "limit": query.page_size + 1})
    rows = await cur.fetchall()
    next_token = ""
    if len(rows) > query.page_size:
        rows = rows[:query.page_size]
        last = rows[-1]
        next_token = paging.encode(query.scope(), [last["processed_at"].isoformat(), last["event_id"]])
    return OutcomePage([_from_row(row) for row in rows], next_token)


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
    except psycopg.errors.UndefinedColumn:  # migrated by an older processor: a migration is pending
        raise Unavailable("the processor's database is not up to date: run `python -m processor migrate`") from None
    except psycopg.OperationalError as exc:
        raise Unavailable(f"the processor's database is unavailable: {exc.sqlstate or type(exc).__name__}") from None
