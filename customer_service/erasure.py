"""Erasure on request (Colombia's law 1581 of 2012 on habeas data, GDPR art. 17): pure rules, no I/O.

docs/design.md "Erasure" tells the whole story. In short, EraseCustomer deletes a customer's six
personal fields and keeps its row as an anonymous tombstone. Its identity values are kept only as
digests on the tenant's suppression list (table `erased_identities`), each with the erasure time, so
that an event from before the erasure (a replay, a redelivery) cannot bring the person back: its
values whose digest is listed are set aside like the values that identify nobody (reason "erased",
`screen_erased`). An event observed after the erasure (the person bought again and gave their data
again) is processed normally.

The digest of a value is the lower-case hex SHA-256 of ``tenant_id NUL field NUL normalised value``
(`identity_digest`); whatsapp_number counts as phone_number (as in a tenant's own list), so the
person's number is suppressed in either field. These digests are pseudonymous personal data kept only
to honour the erasure: anyone with the database can test a guessed value against them, and a 10-digit
national id or phone number is brute-forced from its digest in minutes. That is the known, documented
trade-off of a suppression list; the values themselves are never stored, logged or answered.

This module is imported by processor/dead_letter_admin.py (the dead-letter purge), so it reads no
setting and imports nothing of the service's I/O.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from common.buyer_identity import (
    EMAIL,
    NATIONAL_ID,
    PHONE_NUMBER,
    SCREENED_FIELDS,
    WHATSAPP_NUMBER,
    Ignored,
)
from common.errors import InvalidArgument

# The reason an erased value is set aside with (IgnoredValue.reason, the processor's outcome).
ERASED = "erased"

# The personal data a customer holds: what an erasure deletes.
PERSONAL_FIELDS = (NATIONAL_ID, EMAIL, PHONE_NUMBER, "first_name", "last_name", WHATSAPP_NUMBER)
# The field name that goes into a value's digest: a phone number is one, in whichever field it is.
DIGEST_FIELD = {NATIONAL_ID: NATIONAL_ID, EMAIL: EMAIL, PHONE_NUMBER: PHONE_NUMBER, WHATSAPP_NUMBER: PHONE_NUMBER}

MAX_REQUESTED_BY = 200
MAX_REASON = 500


def identity_digest(tenant_id: str, field: str, value: str) -> str:
    """The suppression-list digest of one NORMALISED value of a screened field (hex SHA-256)."""
    return hashlib.sha256(f"{tenant_id}\0{DIGEST_FIELD[field]}\0{value}".encode()).hexdigest()


def value_digests(tenant_id: str, values: Mapping[str, Any]) -> dict[str, str]:
    """field -> digest of each non-empty screened value among `values` (a row, a buyer's dict)."""
    return {field: identity_digest(tenant_id, field, values[field])
            for field in SCREENED_FIELDS if values.get(field)}


def customer_digests(tenant_id: str, row: Mapping[str, Any]) -> list[str]:
    """The sorted, distinct digests of a stored customer's identity values: what its erasure lists."""
    return sorted(set(value_digests(tenant_id, row).values()))


def held_fields(row: Mapping[str, Any]) -> list[str]:
    """The names of the personal fields that hold data, in field order (what an erasure erases)."""
    return [name for name in PERSONAL_FIELDS if row.get(name)]


def screen_erased(tenant_id: str, values: Mapping[str, str], observed_at: datetime,
                  erased: Mapping[str, datetime]) -> tuple[dict[str, str], list[Ignored]]:
    """The buyer's values with the erased ones set aside ("" like an absent value), and what was set
    aside (reason ERASED), in field order.

    `erased` maps digests on the suppression list to their erasure time. A value is set aside when its
    digest is listed and the event is not newer than that erasure (observed_at <= erased_at); a newer
    event is the person giving their data again, and is processed normally.
    """
    kept = dict(values)
    ignored: list[Ignored] = []
    for field, digest in value_digests(tenant_id, values).items():
        erased_at = erased.get(digest)
        if erased_at is not None and observed_at <= erased_at:
            kept[field] = ""
            ignored.append(Ignored(field, ERASED))
    return kept, ignored


def merge_ignored(*groups: Iterable[Ignored]) -> tuple[Ignored, ...]:
    """Several lists of set-aside values as one, in field order (a field is set aside at most once)."""
    order = {name: index for index, name in enumerate(SCREENED_FIELDS)}
    return tuple(sorted((i for group in groups for i in group), key=lambda i: order.get(i.field, len(order))))


def _note(value: str, field: str, limit: int, *, required: bool) -> str:
    """One line of text for the erasure record: stripped, no control characters, at most `limit` long."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidArgument(f"{field} is required: say who asked for the erasure", field)
    if len(text) > limit:
        raise InvalidArgument(f"{field} is longer than {limit} characters", field)
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidArgument(f"{field} must be one line without control characters", field)
    return text


def check_request(requested_by: str, reason: str) -> tuple[str, str]:
    """requested_by (required) and reason (optional), checked; InvalidArgument names the field."""
    return (_note(requested_by, "requested_by", MAX_REQUESTED_BY, required=True),
            _note(reason, "reason", MAX_REASON, required=False))
