"""The identifier service layer: validation, outcomes and transactions behind a small class."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from common import db, ids, limits, normalize, paging
from common.batch_rpc import rounds, screen, single
from common.errors import DomainError, InvalidArgument, NotFound
from common.limits import MAX_EVENT_ID, MAX_LINE_ITEMS, MAX_PRODUCT_NAME, MAX_SKU, MAX_TRANSACTION_ID
from common.timestamps import now
from identifier_service import repository
from identifier_service.repository import Assignment, Provenance, Release

MAX_CODES_PER_CALL = 100_000


class Outcome(enum.Enum):
    """What an assignment did. None of them is an error: they are answers."""

    ASSIGNED = "assigned"
    ALREADY_ASSIGNED = "already_assigned"
    CONFLICT = "conflict"
    UNKNOWN_CODE = "unknown_code"
    RELEASED = "released"  # the sale was refunded or voided: a recorded release covers the code


class ReleaseOutcome(enum.Enum):
    """What a release did to one code. None of them is an error: they are answers."""

    RELEASED = "released"  # held through this very transaction, now free (or released by this same event before)
    NOT_HELD = "not_held"  # free, or held through another transaction: untouched
    UNKNOWN_CODE = "unknown_code"


RELEASE_KINDS = ("refund", "void")


@dataclass
class AssignResult:
    """The outcome and the identifier as stored (None for unknown_code)."""

    outcome: Outcome
    identifier: dict[str, Any] | None


def clean_provenance(provenance: Provenance) -> Provenance:
    """Validate the provenance: texts within the caps a sale has at the gateway (common.limits), no
    control characters, and a sale time a sale can have."""
    problem = limits.event_time_problem(provenance.sold_at, now())
    if problem:
        raise InvalidArgument(f"provenance.sold_at {problem}", "provenance.sold_at")
    return Provenance(
        transaction_id=normalize.text(provenance.transaction_id, "provenance.transaction_id", MAX_TRANSACTION_ID),
        product_sku=normalize.text(provenance.product_sku, "provenance.product_sku", MAX_SKU),
        product_name=normalize.text(provenance.product_name, "provenance.product_name", MAX_PRODUCT_NAME),
        event_id=normalize.text(provenance.event_id, "provenance.event_id", MAX_EVENT_ID),
        sold_at=provenance.sold_at,
    )


def checked(item: Assignment) -> Assignment:
    """The assignment validated (ids, provenance texts), customer id in canonical form; InvalidArgument."""
    ids.tenant_id(item.tenant_id)
    ids.code(item.code)
    return Assignment(item.tenant_id, item.code, ids.customer_uuid(item.customer_id), clean_provenance(item.provenance))


def assign_result(row: dict[str, Any] | None, customer_id: str) -> AssignResult:
    """The outcome of one assignment from the row the statement returned (None: no such code)."""
    if row is None:
        return AssignResult(Outcome.UNKNOWN_CODE, None)
    previous = row.pop("previous_customer_id")
    if row.pop("released", False):
        outcome = Outcome.RELEASED
    elif previous is None:
        outcome = Outcome.ASSIGNED
    elif str(previous) == customer_id:
        outcome = Outcome.ALREADY_ASSIGNED
    else:
        outcome = Outcome.CONFLICT
    return AssignResult(outcome, row)


def checked_release(item: Release) -> Release:
    """The release validated: ids, transaction and event texts (both required), kind, a time an event can
    have, at most MAX_LINE_ITEMS codes (a sale has no more), a code named twice kept once; InvalidArgument."""
    ids.tenant_id(item.tenant_id)
    transaction_id = normalize.text(item.transaction_id, "transaction_id", MAX_TRANSACTION_ID)
    if not transaction_id:
        raise InvalidArgument("transaction_id must not be empty: name the sale to release", "transaction_id")
    event_id = normalize.text(item.event_id, "event_id", MAX_EVENT_ID)
    if not event_id:
        raise InvalidArgument("event_id must not be empty: name the refund or void event", "event_id")
    if item.kind not in RELEASE_KINDS:
        raise InvalidArgument("kind must be REFUND or VOID", "kind")
    problem = limits.event_time_problem(item.released_at, now())
    if problem:
        raise InvalidArgument(f"released_at {problem}", "released_at")
    if len(item.codes) > MAX_LINE_ITEMS:
        raise InvalidArgument(f"codes must hold at most {MAX_LINE_ITEMS} codes (a sale's line items)", "codes")
    codes = tuple(dict.fromkeys(ids.code(c, f"codes[{i}]") for i, c in enumerate(item.codes)))
    return Release(item.tenant_id, transaction_id, codes, event_id, item.kind, item.released_at)


class IdentifierService:
    """Registers, reads and assigns identifiers; each call is one statement (per round) on a pooled connection."""

    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool

    async def register(self, tenant_id: str, codes: list[str]) -> tuple[int, int]:
        """Register codes in bulk (one round trip); returns (registered, already_registered)."""
        ids.tenant_id(tenant_id)
        if not codes:
            raise InvalidArgument("codes must not be empty", "codes")
        if len(codes) > MAX_CODES_PER_CALL:
            raise InvalidArgument(f"at most {MAX_CODES_PER_CALL} codes per call; split the list", "codes")
        unique = list(dict.fromkeys(ids.code(c, f"codes[{i}]") for i, c in enumerate(codes)))
        async with db.connection(self.pool) as conn:
            registered = await repository.register(conn, tenant_id, unique)
        return registered, len(unique) - registered

    async def get(self, tenant_id: str, code: str) -> dict[str, Any]:
        """One of the tenant's codes; another tenant's code is NOT_FOUND too."""
        ids.tenant_id(tenant_id)
        ids.code(code)
        async with db.connection(self.pool) as conn:
            row = await repository.get(conn, tenant_id, code)
        if row is None:
            raise NotFound(f"no identifier {code!r} for tenant {tenant_id!r}")
        return row

    async def assign(self, tenant_id: str, code: str, customer_id: str, provenance: Provenance) -> AssignResult:
        """Link the code to the customer, atomically; see Outcome."""
        return single(await self.assign_many([Assignment(tenant_id, code, customer_id, provenance)]))

    async def assign_many(self, items: Sequence[Assignment | DomainError]) -> list[AssignResult | DomainError]:
        """Make many assignments in order; one result per item.

        An item that is already an error, or fails validation, is answered with that error and changes
        nothing. The valid ones take their sales' transaction locks (shared; repository.lock_transactions),
        then run as one statement per round (common.batch_rpc.rounds: a code named twice
        is assigned by its first item and seen as taken by the second), all in one transaction: a failed
        call changed nothing.
        """
        screened = screen(items, checked)
        valid = screened.valid
        if valid:
            async with db.connection(self.pool) as conn, conn.transaction():
                await repository.lock_transactions(
                    conn, [(a.tenant_id, a.provenance.transaction_id) for a in valid if a.provenance.transaction_id],
                    shared=True)
                for round_ in rounds([(a.tenant_id, a.code) for a in valid]):
                    rows = await repository.assign(conn, [valid[i] for i in round_])
                    for i, row in zip(round_, rows):
                        screened.results[screened.positions[i]] = assign_result(row, valid[i].customer_id)
        return screened.results

    async def release_many(
        self, items: Sequence[Release | DomainError]
    ) -> list[list[tuple[str, ReleaseOutcome, str]] | DomainError]:
        """Make many releases in order; per item, (code, outcome, customer released from) triples (see
        repository.release), or its error.

        Validation and rounds as in assign_many (a round holds one item per (tenant, transaction), so a
        later release of the same sale sees what an earlier one did), all in one transaction that first
        takes the transactions' locks and tells the guard which transactions it releases.
        """
        screened = screen(items, checked_release)
        valid = screened.valid
        if valid:
            async with db.connection(self.pool) as conn, conn.transaction():
                await repository.allow_releases(conn, valid)
                for round_ in rounds([(r.tenant_id, r.transaction_id) for r in valid]):
                    answers = await repository.release(conn, [valid[i] for i in round_])
                    for i, answer in zip(round_, answers):
                        screened.results[screened.positions[i]] = [
                            (code, ReleaseOutcome(outcome), customer) for code, outcome, customer in answer]
        return screened.results

    async def history(
        self, tenant_id: str, code: str, page_size: int, page_token: str
    ) -> tuple[list[dict[str, Any]], str]:
        """One page of a code's history, oldest first, and the next page's token; NOT_FOUND for a code the
        tenant does not have."""
        ids.tenant_id(tenant_id)
        ids.code(code)
        limit = paging.page_size(page_size)
        scope = {"tenant": tenant_id, "code": code}
        after = paging.decode_after_id(page_token, scope)
        async with db.connection(self.pool) as conn:
            rows = await repository.history_page(conn, tenant_id, code, after, limit + 1)
        if rows is None:
            raise NotFound(f"no identifier {code!r} for tenant {tenant_id!r}")
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = paging.encode(scope, [rows[-1]["id"]])
        return rows, next_token

    async def list(
        self, tenant_id: str, customer_id: str, page_size: int, page_token: str
    ) -> tuple[list[dict[str, Any]], str]:
        """One page of the tenant's codes (optionally one customer's) and the next page's token."""
        ids.tenant_id(tenant_id)
        customer = ids.customer_uuid(customer_id) if customer_id else None
        limit = paging.page_size(page_size)
        scope = {"tenant": tenant_id, "customer": customer}
        after = paging.decode(page_token, scope, (paging.text,))
        async with db.connection(self.pool) as conn:
            rows = await repository.page(conn, tenant_id, customer, after[0] if after else None, limit + 1)
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = paging.encode(scope, [rows[-1]["code"]])
        return rows, next_token
