"""The upsert rules of docs/design.md "Customer upsert rules", as pure functions (no I/O), so each rule is easy to test.

Values that identify nobody (an anonymous-buyer id, a placeholder e-mail...) are set aside first
(`screen`), and so are, within the batch's transaction, the values of customers erased after the
event (`screen_erased`, docs/design.md "Erasure"). Match order within a tenant: national_id, else email, else phone. A customer whose stored national
id differs from the event's is a different person and is never matched through e-mail or phone.
A contact value held by a customer other than the target is left out and reported as a clash:
nothing is merged silently. Present fields overwrite only when the event is at least as new as the
customer's data; absent fields never erase; an older event may still fill a blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from common import buyer_identity, normalize
from common.buyer_identity import Ignored, TenantList
from common.errors import InvalidArgument
from customer_service import erasure

IDENTITY_FIELDS = ("national_id", "email", "phone_number")
CUSTOMER_FIELDS = (*IDENTITY_FIELDS, "first_name", "last_name", "whatsapp_number")


@dataclass(frozen=True)
class CustomerFields:
    """A buyer's data as an event tells it, normalised; "" means not given."""

    national_id: str = ""
    email: str = ""
    phone_number: str = ""
    first_name: str = ""
    last_name: str = ""
    whatsapp_number: str = ""

    @classmethod
    def parse(cls, raw: Any, default_phone_region: str | None = None) -> "CustomerFields":
        """Validate and normalise anything with the six attributes (a proto message, a dict-like)."""
        get = raw.get if isinstance(raw, dict) else (lambda name, _=None: getattr(raw, name, ""))
        parsed = cls(
            national_id=normalize.national_id(get("national_id", "")),
            email=normalize.email(get("email", "")),
            phone_number=normalize.phone(get("phone_number", ""), "phone_number", default_phone_region),
            first_name=normalize.name(get("first_name", ""), "first_name"),
            last_name=normalize.name(get("last_name", ""), "last_name"),
            whatsapp_number=normalize.phone(get("whatsapp_number", ""), "whatsapp_number", default_phone_region),
        )
        if not (parsed.national_id or parsed.email or parsed.phone_number):
            raise InvalidArgument(
                "at least one of national_id, email or phone_number is required to identify the customer", "data"
            )
        return parsed

    @property
    def identified(self) -> bool:
        """True while at least one value that can identify the buyer is present."""
        return bool(self.national_id or self.email or self.phone_number)

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def screen(incoming: CustomerFields, tenant: TenantList | None = None) -> tuple[CustomerFields, list[Ignored]]:
    """The buyer with the values that identify nobody set aside (common.buyer_identity: generic
    anonymous-buyer ids, degenerate values, placeholder e-mails and phones, the tenant's own list), and
    what was set aside. Those values are then never matched and never stored; a buyer left with none
    of national_id, email or phone_number is unidentified."""
    kept, ignored = buyer_identity.screen(incoming.as_dict(), tenant)
    return CustomerFields(**kept), ignored


def screen_erased(tenant_id: str, incoming: CustomerFields, observed_at: datetime,
                  erased: Mapping[str, datetime]) -> tuple[CustomerFields, list[Ignored]]:
    """The buyer with the values of erased customers set aside (reason "erased"), when the event is not
    newer than their erasure, and what was set aside (customer_service.erasure.screen_erased). `erased`
    is the tenant's suppression list as read by the batch's transaction (digest -> erased_at); those
    values are then treated exactly like the ones `screen` sets aside."""
    kept, ignored = erasure.screen_erased(tenant_id, incoming.as_dict(), observed_at, erased)
    return CustomerFields(**kept), ignored


@dataclass(frozen=True)
class Clash:
    """A contact value the event carries that another customer of the tenant holds."""

    field: str
    other_customer_id: str


@dataclass
class UpsertPlan:
    """What to write: a new row (target None) or changes to the target row; plus the clashes."""

    target: dict[str, Any] | None
    values: dict[str, str | None] = field(default_factory=dict)
    data_observed_at: datetime | None = None
    clashes: list[Clash] = field(default_factory=list)

    @property
    def creates(self) -> bool:
        return self.target is None

    @property
    def changes_anything(self) -> bool:
        return self.target is None or bool(self.values) or self.data_observed_at != self.target["data_observed_at"]


class Candidates:
    """The stored customers a batch may touch, found by (tenant, contact field, value) and kept current
    as the batch writes, so each item sees what the items before it wrote (what the candidate lookup
    would select, without scanning every row for every item)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._by_id: dict[Any, dict[str, Any]] = {}
        self._by_value: dict[tuple[str, str, str], Any] = {}
        for row in rows:
            self.put(row)

    def put(self, row: dict[str, Any]) -> None:
        """Add a row, or replace it with its newer version (found by the values it holds now)."""
        old = self._by_id.get(row["id"])
        if old is not None:
            for name in IDENTITY_FIELDS:
                if old[name] and self._by_value.get((old["tenant_id"], name, old[name])) == row["id"]:
                    del self._by_value[(old["tenant_id"], name, old[name])]
        self._by_id[row["id"]] = row
        for name in IDENTITY_FIELDS:
            if row[name]:
                self._by_value[(row["tenant_id"], name, row[name])] = row["id"]

    def for_buyer(self, tenant_id: str, incoming: CustomerFields) -> list[dict[str, Any]]:
        """The tenant's customers that hold one of the buyer's contact values."""
        found = {self._by_value.get((tenant_id, name, getattr(incoming, name))) for name in IDENTITY_FIELDS
                 if getattr(incoming, name)}
        found.discard(None)
        return [self._by_id[customer_id] for customer_id in found]


def _holder(rows: list[dict[str, Any]], name: str, value: str) -> dict[str, Any] | None:
    if not value:
        return None
    return next((row for row in rows if row[name] == value), None)


def choose_target(incoming: CustomerFields, candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The stored customer this event is about, or None for a new customer."""
    by_national_id = _holder(candidates, "national_id", incoming.national_id)
    if by_national_id is not None:
        return by_national_id

    def same_person_possible(row: dict[str, Any]) -> bool:
        return not (incoming.national_id and row["national_id"] and row["national_id"] != incoming.national_id)

    for name in ("email", "phone_number"):
        row = _holder(candidates, name, getattr(incoming, name))
        if row is not None and same_person_possible(row):
            return row
    return None


def plan_upsert(incoming: CustomerFields, observed_at: datetime, candidates: list[dict[str, Any]]) -> UpsertPlan:
    """Decide the write for one event, given every stored customer that shares one of its contact values."""
    target = choose_target(incoming, candidates)
    plan = UpsertPlan(target=target)
    skipped: set[str] = set()
    for name in IDENTITY_FIELDS:
        holder = _holder(candidates, name, getattr(incoming, name))
        if holder is not None and (target is None or holder["id"] != target["id"]):
            plan.clashes.append(Clash(name, str(holder["id"])))
            skipped.add(name)

    if target is None:
        plan.values = {n: getattr(incoming, n) for n in CUSTOMER_FIELDS if getattr(incoming, n) and n not in skipped}
        plan.data_observed_at = observed_at
        return plan

    is_newer = observed_at >= target["data_observed_at"]
    for name in CUSTOMER_FIELDS:
        new = getattr(incoming, name)
        if not new or name in skipped or new == target[name]:
            continue
        if target[name] is None or is_newer:
            plan.values[name] = new
    plan.data_observed_at = max(observed_at, target["data_observed_at"])
    return plan
