"""Validation of the identifiers every service receives: tenant ids, UUIDs, product codes.

Tenant ids end up in NATS subjects and URLs, so they are restricted to characters that are safe in
both (no dots, wildcards, slashes or whitespace).
"""

from __future__ import annotations

import re
import uuid

from common.errors import InvalidArgument
from common.limits import MAX_CODE, MAX_EVENT_ID, MAX_TENANT_ID

# \Z, not $: "$" also matches before a final newline, and "acme\n" must not pass as a tenant id.
_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,%d}\Z" % (MAX_TENANT_ID - 1))
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,%d}\Z" % (MAX_CODE - 1))
# Printable ASCII: an event id goes into NATS headers, gRPC metadata and log lines.
_EVENT_ID = re.compile(r"^[\x21-\x7e]{1,%d}\Z" % MAX_EVENT_ID)


def tenant_id(value: str, field: str = "tenant_id") -> str:
    """A tenant id: 1-64 letters, digits, '_' or '-', starting with a letter or digit."""
    if not value:
        raise InvalidArgument(f"{field} is required", field)
    if not _TENANT_ID.match(value):
        raise InvalidArgument(
            f"{field} must be 1-{MAX_TENANT_ID} letters, digits, '_' or '-', starting with a letter or digit", field
        )
    return value


def is_tenant_id(value: str) -> bool:
    """True when `value` is a well-formed tenant id."""
    return bool(_TENANT_ID.match(value))


def is_event_id(value: str) -> bool:
    """True when `value` can stand as an event id in headers, metadata and logs (1-MAX_EVENT_ID printable
    ASCII characters, no spaces); it does not check the gateway's `evt_` form, which replays and
    other publishers need not follow."""
    return bool(_EVENT_ID.match(value))


def customer_uuid(value: str, field: str = "customer_id") -> str:
    """A customer id: a UUID, returned in canonical lower-case form."""
    if not value:
        raise InvalidArgument(f"{field} is required", field)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgument(f"{field} must be a UUID", field) from None


def code(value: str, field: str = "code") -> str:
    """A product code (autentikapp_code): 1-MAX_CODE letters, digits and . _ : - (UUIDs fit)."""
    if not value:
        raise InvalidArgument(f"{field} is required", field)
    if not _CODE.match(value):
        raise InvalidArgument(
            f"{field} must be 1-{MAX_CODE} letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
            field,
        )
    return value
