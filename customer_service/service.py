"""The customer service layer: transactions, retries and the domain rules, behind a small class."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from common import db, ids, limits, normalize, paging
from common.batch_rpc import screen, single
from common.buyer_identity import Ignored
from common.errors import DomainError, InvalidArgument, NotFound, Unavailable
from common.timestamps import now
from customer_service import erasure, repository
from customer_service.domain import (
    CUSTOMER_FIELDS,
    Candidates,
    Clash,
    CustomerFields,
    plan_upsert,
    screen_erased,
)

log = logging.getLogger(__name__)

# A few attempts always suffice unless something is badly wrong, which is then reported as retryable.
MAX_UPSERT_ATTEMPTS = 5


@dataclass
class UpsertResult:
    """The customer as stored (None when the buyer is unidentified), whether it was created (or else
    changed), the clashes, and the values set aside because they identify nobody."""

    customer: dict[str, Any] | None
    created: bool
    clashes: list[Clash]
    updated: bool = False
    ignored: tuple[Ignored, ...] = ()

    @property
    def unidentified(self) -> bool:
        """True when no value identified the buyer: nothing was written."""
        return self.customer is None

    @property
    def action(self) -> str:
        """What the upsert did: "created", "updated", "unchanged" or "unidentified" (for logs)."""
        if self.unidentified:
            return "unidentified"
        return "created" if self.created else "updated" if self.updated else "unchanged"


@dataclass(frozen=True)
class EraseResult:
    """An erasure: the tombstone, whether it had been erased before (then nothing changed), the fields
    that were erased (names), and the digests put on the suppression list."""

    customer: dict[str, Any]
    already_erased: bool
    fields: list[str]
    digests: list[str]


@dataclass(frozen=True)
class UpsertItem:
    """One buyer to apply: the tenant, the event's buyer data (normalised, with the values that identify
    nobody already set aside: `ignored`), its time, and the event's id ("" when none was given), which
    the customer's history records with each field the item sets or changes."""

    tenant_id: str
    incoming: CustomerFields
    observed_at: datetime
    ignored: tuple[Ignored, ...] = ()
    event_id: str = ""


@dataclass(frozen=True)
class HistoryPage:
    """One page of a customer's history (oldest first) and the token of the next ("" on the last)."""

    entries: list[dict[str, Any]]
    next_page_token: str


def check_item(item: UpsertItem) -> UpsertItem:
    """The checks on one item that need no database; raises InvalidArgument."""
    ids.tenant_id(item.tenant_id)
    problem = limits.event_time_problem(item.observed_at, now())
    if problem:
        raise InvalidArgument(f"observed_at {problem}", "observed_at")
    return item


def history_rows(item: UpsertItem, customer_id: Any, values: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    """The customer's history rows for one applied item (docs/design.md "Customer history"): one per field
    it set or changed (`values`, the plan's), in field order, with the item's event and time, recorded
    at the transaction's `now`."""
    return [{"customer_id": customer_id, "tenant_id": item.tenant_id, "field": name, "value": values[name],
             "event_id": item.event_id or None, "observed_at": item.observed_at, "recorded_at": now}
            for name in CUSTOMER_FIELDS if name in values]


def plan_batch(
    items: list[UpsertItem], known: Candidates, now: datetime
) -> tuple[list[UpsertResult], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply the items in order to the rows in `known` (which is updated), in memory: each item's result
    (the row as that item left it), then the final state of the new rows and of the changed ones, then
    the history rows of every field each item set or changed, in item order (none for an unchanged
    field or an unidentified buyer)."""
    results: list[UpsertResult] = []
    created: dict[Any, dict[str, Any]] = {}
    changed: dict[Any, dict[str, Any]] = {}
    history: list[dict[str, Any]] = []
    for item in items:
        if not item.incoming.identified:
            results.append(UpsertResult(None, False, [], ignored=item.ignored))
            continue
        plan = plan_upsert(item.incoming, item.observed_at, known.for_buyer(item.tenant_id, item.incoming))
        if plan.creates:
            row = {"id": uuid.uuid4(), "tenant_id": item.tenant_id, **dict.fromkeys(CUSTOMER_FIELDS), **plan.values,
                   "created_at": now, "updated_at": now, "data_observed_at": plan.data_observed_at}
            created[row["id"]] = row
        elif plan.changes_anything:
            row = {**plan.target, **plan.values, "data_observed_at": plan.data_observed_at, "updated_at": now}
            (created if row["id"] in created else changed)[row["id"]] = row
        else:
            row = plan.target
        history += history_rows(item, row["id"], plan.values, now)
        known.put(row)
        results.append(UpsertResult(row, plan.creates, plan.clashes, updated=not plan.creates and plan.changes_anything,
                                    ignored=item.ignored))
    return results, list(created.values()), list(changed.values()), history


class CustomerService:
    """Upserts and reads customers; each call is one short transaction on a pooled connection."""

    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool

    async def upsert(self, tenant_id: str, incoming: CustomerFields, observed_at: datetime,
                     event_id: str = "") -> UpsertResult:
        """Apply one event's buyer data following the rules in customer_service.domain."""
        return single(await self.upsert_many([UpsertItem(tenant_id, incoming, observed_at, event_id=event_id)]))

    async def upsert_many(self, items: Sequence[UpsertItem | DomainError]) -> list[UpsertResult | DomainError]:
        """Apply many buyers in order, in one transaction; one result per item.

        An unidentified buyer (every value it had identifies nobody) writes nothing and is answered as
        such. An item that is already an error (its data did not parse) or fails check_item is answered with
        that error and writes nothing; the others are applied together. A failure of the transaction
        (database down, contention that outlasts the retries) raises and writes nothing.
        """
        screened = screen(items, check_item)
        if screened.valid:
            if any(item.incoming.identified for item in screened.valid):
                applied = await self._apply(screened.valid)
            else:  # nothing to write: no transaction
                applied = plan_batch(screened.valid, Candidates([]), now())[0]
            for index, result in zip(screened.positions, applied):
                screened.results[index] = result
        return screened.results

    async def _apply(self, items: list[UpsertItem]) -> list[UpsertResult]:
        """Lock the batch's contact values, then every candidate in one statement, then plan every item
        in memory and write the resulting rows with one UPDATE and one INSERT, and the customers' history
        rows with one more INSERT (plan_batch, repository.write_rows).

        The in-memory plan is exact: the batch holds the locks on every row it can touch, and
        created_at/updated_at are the transaction's now(). If the batch write hits a unique violation
        (a value one customer gives up and another takes within one statement, or a writer that takes
        no identity locks), the retry writes item by item, in order, as a single upsert does.

        The suppression list of erased values (docs/design.md "Erasure") is read after the candidates are
        locked, in the same transaction. An erasure of one of the batch's candidates that has not committed
        by then cannot commit before this batch does (this batch holds that row's lock), and then erases
        what the batch wrote; one that committed first is seen (a candidate lock that waited for it
        returns after it), and its values are set aside before planning.

        The identity locks make concurrent batches that share a buyer queue rather than collide; a
        unique violation or a deadlock is still retried (a writer that takes no such locks, e.g. a
        hand-run SQL fix), and the retry sees the other's row and becomes an update.
        """
        # The retries are caught inside db.connection: DeadlockDetected is a psycopg.OperationalError, which
        # db.connection turns into Unavailable, so caught outside it the deadlock would never be retried.
        async with db.connection(self.pool) as conn:
            for attempt in range(1, MAX_UPSERT_ATTEMPTS + 1):
                try:
                    async with conn.transaction():
                        buyers = [(item.tenant_id, item.incoming) for item in items]
                        now = await repository.lock_identities(conn, buyers)
                        known = Candidates(await repository.lock_candidates(conn, buyers))
                        # Read only now, holding the candidates' row locks: an erasure of one of them
                        # has committed (and is listed) or waits for this transaction (erase).
                        screened = await self._screen_erased(conn, items)
                        if attempt == 1:
                            results, created, changed, history = plan_batch(screened, known, now)
                            await repository.write_rows(conn, created, changed, history)
                            return results
                        results = []
                        for item in screened:  # the fallback: each item written before the next is planned
                            [result], created, changed, history = plan_batch([item], known, now)
                            await repository.write_rows(conn, created, changed, history)
                            results.append(result)
                        return results
                except psycopg.errors.UniqueViolation:
                    log.info("upsert of %d buyer(s) raced with a concurrent writer (attempt %d); retrying item "
                             "by item", len(items), attempt)
                except psycopg.errors.DeadlockDetected:
                    log.info("upsert of %d buyer(s) deadlocked with a concurrent writer (attempt %d); retrying",
                             len(items), attempt)
        raise Unavailable("too much contention on these customers; retry")

    @staticmethod
    async def _screen_erased(conn: psycopg.AsyncConnection, items: list[UpsertItem]) -> list[UpsertItem]:
        """The items with the values on the suppression list set aside (reason "erased") when the event is
        not newer than their erasure (domain.screen_erased); one query for the batch."""
        wanted = [(item.tenant_id, digest) for item in items
                  for digest in erasure.value_digests(item.tenant_id, item.incoming.as_dict()).values()]
        erased = await repository.erased_digests(conn, wanted)
        if not erased:
            return items
        screened = []
        for item in items:
            incoming, ignored = screen_erased(item.tenant_id, item.incoming, item.observed_at, erased)
            screened.append(replace(item, incoming=incoming, ignored=erasure.merge_ignored(item.ignored, ignored))
                            if ignored else item)
        return screened

    async def erase(self, tenant_id: str, customer_id: str, requested_by: str, reason: str = "") -> EraseResult:
        """Erase one customer's personal data on request (docs/design.md "Erasure"): the row becomes a
        tombstone, the values of its history are deleted (each entry keeps its field, event and times),
        its identity values' digests go on the tenant's suppression list, and the erasure is recorded
        with who asked; all in one transaction. Erasing an erased customer changes nothing and
        answers the first erasure's tombstone, fields and digests (`already_erased`). Another tenant's id
        is NOT_FOUND.

        Locks, in the upsert's order: the advisory locks on the customer's identity values (so an upsert
        of the same buyer queues behind the erasure, or the erasure behind it), then the row (FOR
        UPDATE). An upsert reads the suppression list only once it holds its candidates' row locks, so it
        either finished before this row lock (and its data is erased here) or sees the erasure.
        """
        ids.tenant_id(tenant_id)
        customer_id = ids.customer_uuid(customer_id)
        requested_by, reason = erasure.check_request(requested_by, reason)
        async with db.connection(self.pool) as conn:
            for attempt in range(1, MAX_UPSERT_ATTEMPTS + 1):
                try:
                    async with conn.transaction():
                        seen = await repository.get(conn, tenant_id, customer_id)
                        if seen is None:
                            raise NotFound(f"no customer {customer_id} for tenant {tenant_id!r}")
                        buyer = CustomerFields(**{name: seen[name] or "" for name in CUSTOMER_FIELDS})
                        now = await repository.lock_identities(conn, [(tenant_id, buyer)])
                        row = await repository.lock_customer(conn, tenant_id, customer_id)
                        if row["erased_at"] is not None:
                            fields, digests = await repository.erasure_of(conn, row["id"])
                            return EraseResult(row, True, fields, digests)
                        fields = erasure.held_fields(row)
                        digests = erasure.customer_digests(tenant_id, row)
                        tombstone = await repository.erase(conn, row, digests=digests, fields=fields,
                                                           requested_by=requested_by, reason=reason, now=now)
                        return EraseResult(tombstone, False, fields, digests)
                except psycopg.errors.DeadlockDetected:
                    log.info("erasure of customer %s deadlocked with a concurrent writer (attempt %d); retrying",
                             customer_id, attempt)
        raise Unavailable("too much contention on this customer; retry")

    async def get(self, tenant_id: str, customer_id: str) -> dict[str, Any]:
        """One customer of the tenant; another tenant's id is NOT_FOUND too."""
        ids.tenant_id(tenant_id)
        customer_id = ids.customer_uuid(customer_id)
        async with db.connection(self.pool) as conn:
            row = await repository.get(conn, tenant_id, customer_id)
        if row is None:
            raise NotFound(f"no customer {customer_id} for tenant {tenant_id!r}")
        return row

    async def find(self, tenant_id: str, field: str, value: str) -> dict[str, Any]:
        """One customer by national_id, email or phone_number, normalised like the upsert."""
        ids.tenant_id(tenant_id)
        normalizers = {"national_id": normalize.national_id, "email": normalize.email, "phone_number": normalize.phone}
        if field not in normalizers:
            raise InvalidArgument("give one of national_id, email or phone_number", "key")
        key = normalizers[field](value)
        if not key:
            raise InvalidArgument(f"{field} must not be empty", field)
        async with db.connection(self.pool) as conn:
            row = await repository.find(conn, tenant_id, field, key)
        if row is None:
            raise NotFound(f"no customer with that {field} for tenant {tenant_id!r}")
        return row

    async def list(self, tenant_id: str, page_size: int, page_token: str) -> tuple[list[dict[str, Any]], str]:
        """One page of the tenant's customers and the token for the next ("" on the last page)."""
        ids.tenant_id(tenant_id)
        limit = paging.page_size(page_size)
        scope = {"tenant": tenant_id}
        after = paging.decode(page_token, scope, (paging.timestamp, paging.uuid_text))
        async with db.connection(self.pool) as conn:
            rows = await repository.page(conn, tenant_id, after, limit + 1)
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_token = paging.encode(scope, [last["created_at"].isoformat(), str(last["id"])])
        return rows, next_token

    async def history(self, tenant_id: str, customer_id: str, page_size: int, page_token: str) -> HistoryPage:
        """One page of a customer's history, oldest first (docs/design.md "Customer history"); the token
        is bound to the tenant and the customer. Another tenant's id is NOT_FOUND."""
        ids.tenant_id(tenant_id)
        customer_id = ids.customer_uuid(customer_id)
        limit = paging.page_size(page_size)
        scope = {"tenant": tenant_id, "customer": customer_id}
        after = paging.decode_after_id(page_token, scope)
        async with db.connection(self.pool) as conn:
            if await repository.get(conn, tenant_id, customer_id) is None:
                raise NotFound(f"no customer {customer_id} for tenant {tenant_id!r}")
            rows = await repository.history_page(conn, tenant_id, customer_id, after, limit + 1)
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = paging.encode(scope, [rows[-1]["id"]])
        return HistoryPage(rows, next_token)
