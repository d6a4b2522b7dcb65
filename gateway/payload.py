"""The payload rules (docs/design.md "Payload rules"): a decoded `transaction.created` body -> a validated Sale,
and the bus message (WebhookEvent) built from it or from a Release (a refund or a void: their rules are in
gateway/payload_releases.py, built on this module's field checks; parse_event takes any of the three).

Every failing field is reported at once (HTTP 422), named by its path in the body, e.g.
`customer_data.email` or `transaction_data.line_items[2].quantity`. Unknown extra fields are accepted
and ignored. Contact fields are normalised by common.normalize and codes checked by common.ids, the
same rules the services apply.

Caps (each string is trimmed first; the values live in common/limits.py, which the services use too):
  event_type, event_timestamp  64 characters; the timestamp is ISO 8601 with an offset or Z, not before
                               2000-01-01 (a POS default date) and at most 24 h in the future
  customer_data                national_id 32 (after removing separators), email 254, phone numbers
                               32 (E.164 after normalising), first_name / last_name 100
  transaction_id               128, no control characters
  currency                     3 letters (ISO 4217 style), upper-cased
  line_items                   at most 500; product_sku 128, product_name 256, autentikapp_code 128
  quantity                     integer 1..1,000,000
  amounts                      numbers >= 0, at most 18 integer digits and 12 decimals, carried as
                               decimal strings with the digits as sent (1.50 stays "1.50")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from autentikapp.v1 import customer_pb2, events_pb2
from common import ids, limits, normalize
from common.errors import InvalidArgument
from common.limits import (
    MAX_AMOUNT_DECIMALS,
    MAX_AMOUNT_INTEGER_DIGITS,
    MAX_LINE_ITEMS,
    MAX_PRODUCT_NAME,
    MAX_QUANTITY,
    MAX_SHORT_TEXT,
    MAX_SKU,
    MAX_TRANSACTION_ID,
)
from common.timestamps import to_timestamp
from gateway.buyer_rules import BuyerRules
from gateway.event_ids import event_id

SCHEMA_VERSION = 1
EVENT_TYPE = "transaction.created"
REFUNDED = "transaction.refunded"
VOIDED = "transaction.voided"
RELEASE_EVENT_TYPES = (REFUNDED, VOIDED)
EVENT_TYPES = (EVENT_TYPE, *RELEASE_EVENT_TYPES)
RELEASE_KINDS = {REFUNDED: events_pb2.Release.KIND_REFUND, VOIDED: events_pb2.Release.KIND_VOID}

_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FieldError:
    """One failing field: its path in the body and what is wrong."""

    field: str
    message: str


class PayloadInvalid(ValueError):
    """The body breaks the payload rules; `errors` lists every failing field."""

    def __init__(self, errors: list[FieldError]):
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class _Collector:
    """Accumulates field errors while the whole body is checked."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        """Record one failing field."""
        self.errors.append(FieldError(field, message))

    def normalised(self, func, value: str, field: str, *args) -> str:
        """Run a common.normalize / common.ids check; record its InvalidArgument, return "" then."""
        try:
            return func(value, field, *args)
        except InvalidArgument as exc:
            self.add(exc.field or field, str(exc))
            return ""


def _join(parent: str, name: str) -> str:
    """The path of a member: `parent.name`, or `name` at the top."""
    return f"{parent}.{name}" if parent else name


def _object(errors: _Collector, parent: dict, name: str, path: str, *, required: bool = True) -> dict | None:
    """A member that must be a JSON object."""
    value = parent.get(name)
    if value is None:
        if required:
            errors.add(path, f"{path} is required")
        return None
    if not isinstance(value, dict):
        errors.add(path, f"{path} must be an object")
        return None
    return value


def _string(errors: _Collector, parent: dict, name: str, path: str, *, required: bool = False) -> str | None:
    """A member that must be a string when present; trimmed. Missing, null or blank -> "" (or an error)."""
    value = parent.get(name)
    if value is not None and not isinstance(value, str):
        errors.add(path, f"{path} must be a string")
        return None
    text = (value or "").strip()
    if required and not text:
        errors.add(path, f"{path} is required")
        return None
    return text


def _capped(errors: _Collector, text: str | None, path: str, max_length: int) -> str:
    """Refuse over-long text and control characters (identifiers are kept as sent, not collapsed)."""
    if text is None:
        return ""
    if len(text) > max_length:
        errors.add(path, f"{path} is too long (max {max_length} characters)")
        return ""
    if _CONTROL.search(text):
        errors.add(path, f"{path} must not contain control characters")
        return ""
    return text


def _timestamp(errors: _Collector, text: str | None, path: str, now: datetime) -> datetime | None:
    """ISO 8601 with an offset or Z, within common.limits' bounds of a sale's time; returned in UTC."""
    if not text:
        return None
    if len(text) > MAX_SHORT_TEXT:
        errors.add(path, f"{path} is too long (max {MAX_SHORT_TEXT} characters)")
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        errors.add(path, f"{path} must be an ISO 8601 date-time, like 2025-09-13T14:30:00Z")
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        errors.add(path, f"{path} must include a UTC offset or Z, like 2025-09-13T14:30:00Z")
        return None
    try:
        value = parsed.astimezone(timezone.utc)
    except OverflowError:
        errors.add(path, f"{path} is out of range")
        return None
    problem = limits.event_time_problem(value, now)
    if problem:
        errors.add(path, f"{path} {problem}")
        return None
    return value


def _amount(errors: _Collector, parent: dict, name: str, path: str) -> str:
    """An optional number >= 0 as a plain decimal string with the digits as sent ("" when absent)."""
    value = parent.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        errors.add(path, f"{path} must be a number")
        return ""
    number = Decimal(value)
    if number < 0:
        errors.add(path, f"{path} must be >= 0")
        return ""
    if number != 0 and number.adjusted() >= MAX_AMOUNT_INTEGER_DIGITS:
        errors.add(path, f"{path} is too large (max {MAX_AMOUNT_INTEGER_DIGITS} integer digits)")
        return ""
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_AMOUNT_DECIMALS:
        errors.add(path, f"{path} has too many decimals (max {MAX_AMOUNT_DECIMALS})")
        return ""
    return format(number.copy_abs(), "f")  # copy_abs: "-0" is 0; "f": 9.5E+5 -> 950000


def _quantity(errors: _Collector, item: dict, path: str) -> int:
    """A required integer in 1..MAX_QUANTITY (true/false are not integers, 1.0 is not either)."""
    value = item.get("quantity")
    if value is None:
        errors.add(path, f"{path} is required")
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, f"{path} must be an integer")
        return 0
    if not 1 <= value <= MAX_QUANTITY:
        errors.add(path, f"{path} must be between 1 and {MAX_QUANTITY:,}")
        return 0
    return value


def _customer(errors: _Collector, doc: dict, default_country: str) -> customer_pb2.CustomerData:
    """customer_data: at least one of national_id, email, phone_number; every field normalised (phone
    numbers without a country code read in the tenant's default country, refused when it has none)."""
    data = _object(errors, doc, "customer_data", "customer_data")
    if data is None:
        return customer_pb2.CustomerData()

    def field(name: str) -> tuple[str, str]:
        """(raw trimmed text, path) of one customer field."""
        path = _join("customer_data", name)
        return _string(errors, data, name, path) or "", path

    national_id, national_id_path = field("national_id")
    email, email_path = field("email")
    phone, phone_path = field("phone_number")
    first_name, first_name_path = field("first_name")
    last_name, last_name_path = field("last_name")
    whatsapp, whatsapp_path = field("whatsapp_number")
    if not (national_id or email or phone):
        errors.add("customer_data", "customer_data needs at least one of national_id, email, phone_number")
    return customer_pb2.CustomerData(
        national_id=errors.normalised(normalize.national_id, national_id, national_id_path),
        email=errors.normalised(normalize.email, email, email_path),
        phone_number=errors.normalised(normalize.phone, phone, phone_path, default_country or None),
        first_name=errors.normalised(normalize.name, first_name, first_name_path),
        last_name=errors.normalised(normalize.name, last_name, last_name_path),
        whatsapp_number=errors.normalised(normalize.phone, whatsapp, whatsapp_path, default_country or None),
    )


def _line_item(errors: _Collector, item: Any, path: str) -> events_pb2.LineItem:
    """One sold product; without autentikapp_code (missing, null, empty) it is an ordinary product."""
    if not isinstance(item, dict):
        errors.add(path, f"{path} must be an object")
        return events_pb2.LineItem()
    sku = _string(errors, item, "product_sku", _join(path, "product_sku"))
    name = _string(errors, item, "product_name", _join(path, "product_name"))
    code = _string(errors, item, "autentikapp_code", _join(path, "autentikapp_code"))
    return events_pb2.LineItem(
        product_sku=errors.normalised(normalize.text, sku or "", _join(path, "product_sku"), MAX_SKU),
        product_name=errors.normalised(normalize.text, name or "", _join(path, "product_name"), MAX_PRODUCT_NAME),
        quantity=_quantity(errors, item, _join(path, "quantity")),
        unit_price=_amount(errors, item, "unit_price", _join(path, "unit_price")),
        autentikapp_code=errors.normalised(ids.code, code, _join(path, "autentikapp_code")) if code else "",
    )


def _line_items(errors: _Collector, transaction: dict) -> list[events_pb2.LineItem]:
    """transaction_data.line_items: a list of at most MAX_LINE_ITEMS products (may be empty)."""
    path = "transaction_data.line_items"
    items = transaction.get("line_items")
    if items is None:
        errors.add(path, f"{path} is required")
        return []
    if not isinstance(items, list):
        errors.add(path, f"{path} must be a list")
        return []
    if len(items) > MAX_LINE_ITEMS:
        errors.add(path, f"{path} has {len(items)} items (max {MAX_LINE_ITEMS})")
        return []
    return [_line_item(errors, item, f"{path}[{index}]") for index, item in enumerate(items)]


def parse_sale(document: Any, now: datetime, default_country: str = "") -> events_pb2.Sale:
    """Validate a decoded body against the payload rules; raise PayloadInvalid listing every failure.
    `default_country` is the tenant's (ISO 3166-1 alpha-2, "" for none)."""
    errors = _Collector()
    if not isinstance(document, dict):
        raise PayloadInvalid([FieldError("", "the body must be a JSON object")])
    event_type = _capped(errors, _string(errors, document, "event_type", "event_type", required=True),
                         "event_type", MAX_SHORT_TEXT)
    if event_type and event_type != EVENT_TYPE:
        errors.add("event_type", f"event_type must be {EVENT_TYPE!r}")
    timestamp = _timestamp(
        errors, _string(errors, document, "event_timestamp", "event_timestamp", required=True), "event_timestamp", now
    )
    customer = _customer(errors, document, default_country)
    sale = events_pb2.Sale(event_type=event_type, customer=customer, event_timestamp=to_timestamp(timestamp))
    transaction = _object(errors, document, "transaction_data", "transaction_data")
    if transaction is not None:
        path = "transaction_data.transaction_id"
        sale.transaction_id = _capped(errors, _string(errors, transaction, "transaction_id", path, required=True),
                                      path, MAX_TRANSACTION_ID)
        currency = _string(errors, transaction, "currency", "transaction_data.currency")
        if currency and not _CURRENCY.match(currency):
            errors.add("transaction_data.currency", "transaction_data.currency must be 3 letters, like COP")
        elif currency:
            sale.currency = currency.upper()
        sale.total_amount = _amount(errors, transaction, "total_amount", "transaction_data.total_amount")
        sale.line_items.extend(_line_items(errors, transaction))
    if errors.errors:
        raise PayloadInvalid(errors.errors)
    return sale


def parse_event(document: Any, now: datetime, default_country: str = "") -> events_pb2.Sale | events_pb2.Release:
    """Validate a decoded body of any accepted event_type: transaction.created -> its Sale (parse_sale),
    transaction.refunded or transaction.voided -> its Release (gateway.payload_releases.parse_release).
    Another event_type is refused naming the three, with the fields every event has checked too."""
    # Imported here, not at the top: gateway.payload_releases builds on this module's field checks.
    from gateway.payload_releases import parse_release

    event_type = document.get("event_type") if isinstance(document, dict) else None
    if isinstance(event_type, str) and event_type.strip() == EVENT_TYPE:
        return parse_sale(document, now, default_country)
    return parse_release(document, now, event_types=EVENT_TYPES)


def event_id_of(tenant_id: str, content: events_pb2.Sale | events_pb2.Release) -> str:
    """The deterministic event id of a validated sale, refund (its refund_id too) or void."""
    if not isinstance(content, events_pb2.Release):
        return event_id(tenant_id, content.event_type, content.transaction_id)
    if content.kind == events_pb2.Release.KIND_REFUND:
        return event_id(tenant_id, REFUNDED, content.transaction_id, content.refund_id)
    if content.kind == events_pb2.Release.KIND_VOID:
        return event_id(tenant_id, VOIDED, content.transaction_id)
    raise ValueError(f"a release of kind {content.kind} has no event type")


def build_event(tenant_id: str, content: events_pb2.Sale | events_pb2.Release, raw_body: bytes,
                received_at: datetime, rules: BuyerRules | None = None) -> events_pb2.WebhookEvent:
    """The bus message: the validated sale or release (only that field set), its deterministic event id,
    the exact body received, and the tenant's buyer rules for customer_service."""
    event = events_pb2.WebhookEvent(
        buyer_rules=(rules or BuyerRules()).message(),
        schema_version=SCHEMA_VERSION,
        event_id=event_id_of(tenant_id, content),
        tenant_id=tenant_id,
        received_at=to_timestamp(received_at),
        raw_body=raw_body,
    )
    if isinstance(content, events_pb2.Release):
        event.release.CopyFrom(content)
    else:
        event.sale.CopyFrom(content)
    return event
