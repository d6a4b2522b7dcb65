"""The payload rules of a release (docs/design.md "Payload rules"): a decoded `transaction.refunded` or
`transaction.voided` body -> a validated Release. It builds on gateway.payload's field checks, so a field
that a sale also has is checked, capped and reported exactly as in a sale (every failing field at once,
named by its path; unknown extra fields accepted and ignored).

A refund (transaction.refunded) names an accepted sale and one credit note; a brand may refund one sale
several times, each time with its own refund_id:
  event_timestamp                   a sale's rules (ISO 8601 with an offset or Z, from 2000-01-01, at most
                                    24 h ahead)
  transaction_data.transaction_id   the sale's; required, 128 characters, no control characters
  transaction_data.refund_id        the credit note's; required, 128 characters, no control characters
  transaction_data.line_items       optional: the returned products, by autentikapp_code (required in each
                                    item, checked by common.ids); at most 500 items, and not an empty list
                                    (which would say neither "these" nor "every one"); a code named twice
                                    counts once. product_sku, product_name, quantity and unit_price may be
                                    sent: checked as in a sale, not carried. Left out (or null): every
                                    product of the sale that carries a code came back.
A void (transaction.voided) says the whole sale never happened: event_timestamp and
transaction_data.transaction_id; nothing else is read.
customer_data is never read: a release names a sale, not a buyer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from autentikapp.v1 import events_pb2
from common import ids, normalize
from common.limits import (
    MAX_LINE_ITEMS,
    MAX_PRODUCT_NAME,
    MAX_REFUND_ID,
    MAX_SHORT_TEXT,
    MAX_SKU,
    MAX_TRANSACTION_ID,
)
from common.timestamps import to_timestamp
from gateway.payload import (
    RELEASE_EVENT_TYPES,
    RELEASE_KINDS,
    FieldError,
    PayloadInvalid,
    _amount,
    _capped,
    _Collector,
    _join,
    _object,
    _quantity,
    _string,
    _timestamp,
)

LINE_ITEMS = "transaction_data.line_items"


def _identifier(errors: _Collector, transaction: dict, name: str, max_length: int) -> str:
    """A required transaction_data identifier, trimmed and kept as sent (transaction_id, refund_id)."""
    path = _join("transaction_data", name)
    return _capped(errors, _string(errors, transaction, name, path, required=True), path, max_length)


def _returned_code(errors: _Collector, item: Any, path: str) -> str:
    """The autentikapp_code of one returned product ("" when it fails); its other fields checked only."""
    if not isinstance(item, dict):
        errors.add(path, f"{path} must be an object")
        return ""
    for name, max_length in (("product_sku", MAX_SKU), ("product_name", MAX_PRODUCT_NAME)):
        field = _join(path, name)
        errors.normalised(normalize.text, _string(errors, item, name, field) or "", field, max_length)
    if item.get("quantity") is not None:
        _quantity(errors, item, _join(path, "quantity"))
    _amount(errors, item, "unit_price", _join(path, "unit_price"))
    field = _join(path, "autentikapp_code")
    code = _string(errors, item, "autentikapp_code", field, required=True)
    return errors.normalised(ids.code, code, field) if code else ""


def _returned_codes(errors: _Collector, transaction: dict) -> list[str]:
    """The codes of transaction_data.line_items, each once, in the order first sent; [] when the list is
    left out (every product of the sale)."""
    items = transaction.get("line_items")
    if items is None:
        return []
    if not isinstance(items, list):
        errors.add(LINE_ITEMS, f"{LINE_ITEMS} must be a list")
        return []
    if not items:
        errors.add(LINE_ITEMS, f"{LINE_ITEMS} is empty: list the returned products by autentikapp_code, or "
                   "leave line_items out when every product of the sale came back")
        return []
    if len(items) > MAX_LINE_ITEMS:
        errors.add(LINE_ITEMS, f"{LINE_ITEMS} has {len(items)} items (max {MAX_LINE_ITEMS})")
        return []
    codes = [_returned_code(errors, item, f"{LINE_ITEMS}[{index}]") for index, item in enumerate(items)]
    return list(dict.fromkeys(code for code in codes if code))


def parse_release(document: Any, now: datetime, *,
                  event_types: tuple[str, ...] = RELEASE_EVENT_TYPES) -> events_pb2.Release:
    """Validate a decoded refund or void body; raise PayloadInvalid listing every failure.

    Any other event_type is refused, with the fields every event has (event_timestamp,
    transaction_data.transaction_id) checked too; its message lists `event_types` (gateway.payload's
    parse_event passes every type the endpoint accepts)."""
    errors = _Collector()
    if not isinstance(document, dict):
        raise PayloadInvalid([FieldError("", "the body must be a JSON object")])
    event_type = _capped(errors, _string(errors, document, "event_type", "event_type", required=True),
                         "event_type", MAX_SHORT_TEXT)
    kind = RELEASE_KINDS.get(event_type, events_pb2.Release.KIND_UNSPECIFIED)
    if event_type and not kind:
        errors.add("event_type", "event_type must be one of " + ", ".join(repr(name) for name in event_types))
    timestamp = _timestamp(
        errors, _string(errors, document, "event_timestamp", "event_timestamp", required=True), "event_timestamp", now
    )
    release = events_pb2.Release(kind=kind, event_timestamp=to_timestamp(timestamp))
    transaction = _object(errors, document, "transaction_data", "transaction_data")
    if transaction is not None:
        release.transaction_id = _identifier(errors, transaction, "transaction_id", MAX_TRANSACTION_ID)
        if kind == events_pb2.Release.KIND_REFUND:
            release.refund_id = _identifier(errors, transaction, "refund_id", MAX_REFUND_ID)
            release.codes.extend(_returned_codes(errors, transaction))
    if errors.errors:
        raise PayloadInvalid(errors.errors)
    return release
