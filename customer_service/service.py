"""The customer service layer: transactions, retries and the domain rules, behind a small class."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from common import db, ids, normalize, paging
from common.errors import InvalidArgument, NotFound, Unavailable
from common.timestamps import now
from customer_service import repository
from customer_service.domain import Clash, CustomerFields, plan_upsert

log = logging.getLogger(__name__)

# A unique violation means a concurrent event claimed one of our contact values between our read
# and our write; the retry sees its row and becomes an update. A few attempts always suffice unless
# something is badly wrong, which is then reported as retryable.
MAX_UPSERT_ATTEMPTS = 5
# An event dated further ahead than this would freeze the customer's data against every real event.
MAX_FUTURE_SKEW = timedelta(hours=24)


@dataclass
class UpsertResult:
    """The customer as stored, whether it was created, and the clashes."""

    customer: dict[str, Any]
    created: bool
    clashes: list[Clash]


class CustomerService:
    """Upserts and reads customers; each call is one short transaction on a pooled connection."""

    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool

    async def upsert(self, tenant_id: str, incoming: CustomerFields, observed_at: datetime) -> UpsertResult:
        """Apply one event's buyer data following the rules in customer_service.domain."""
        ids.tenant_id(tenant_id)
        if observed_at > now() + MAX_FUTURE_SKEW:
            raise InvalidArgument("observed_at is more than 24 hours in the future", "observed_at")
        for attempt in range(1, MAX_UPSERT_ATTEMPTS + 1):
            try:
                async with db.connection(self.pool) as conn, conn.transaction():
                    candidates = await repository.lock_candidates(conn, tenant_id, incoming)
                    plan = plan_upsert(incoming, observed_at, candidates)
                    if plan.creates:
                        row = await repository.insert(conn, tenant_id, plan.values, plan.data_observed_at)
                    elif plan.changes_anything:
                        row = await repository.update(conn, plan.target["id"], plan.values, plan.data_observed_at)
                    else:
                        row = plan.target
                    return UpsertResult(row, plan.creates, plan.clashes)
            except psycopg.errors.UniqueViolation:
                log.info("upsert raced with a concurrent writer (attempt %d); retrying", attempt)
            except psycopg.errors.DeadlockDetected:
                log.info("upsert deadlocked with a concurrent writer (attempt %d); retrying", attempt)
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
        after = paging.decode(page_token, scope)
        async with db.connection(self.pool) as conn:
            rows = await repository.page(conn, tenant_id, after, limit + 1)
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_token = paging.encode(scope, [last["created_at"].isoformat(), str(last["id"])])
        return rows, next_token
