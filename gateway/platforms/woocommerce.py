"""WooCommerce order webhooks (order.created, order.updated; the body is the REST API v3 order) -> the guide's
document, by the order's status.

A paid status (WooCommerce's wc_get_is_paid_statuses: processing, completed) is the sale; every later
update of the paid order translates to the same sale, which the gateway answers as a duplicate.
`cancelled` after payment is the void, `refunded` (a full refund) the refund of every coded product
(refund_id "full"). Other statuses are not a sale yet (Ignored). A product's code is line-item meta_data
(settings.code_key), the national id order meta_data (settings.national_id_key).

Partial refunds: the order body lists its refunds only as id, reason and total, never which line items
they covered, so one cannot be translated; the paid order still translates as its sale. A brand refunding
part of an order sends the guide's transaction.refunded payload itself, or refunds the whole order.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from gateway.payload import EVENT_TYPE, REFUNDED, VOIDED
from gateway.platforms import Ignored, PlatformSettings, Translated, fields

TOPICS = ("order.created", "order.updated")
PAID_STATUSES = ("processing", "completed")
FULL_REFUND_ID = "full"
LINE_ITEMS = fields.LINE_ITEMS
_PING = re.compile(rb"webhook_id=[0-9]+")


def is_ping(body: bytes, content_type: str) -> bool:
    """WooCommerce's ping when a webhook is saved (WC_Webhook::deliver_ping): a form-encoded POST of
    `webhook_id=<id>` without topic or signature headers, which must be answered 200."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type in ("", "application/x-www-form-urlencoded") and _PING.fullmatch(body) is not None


def _utc(value: Any) -> Any:
    """A *_gmt date-time, which WooCommerce sends in UTC without an offset: with "Z" appended."""
    text = fields.trimmed(value)
    if not isinstance(text, str) or not text:
        return text
    try:
        return text + "Z" if datetime.fromisoformat(text).tzinfo is None else text
    except ValueError:
        return text  # as found: the payload rules say what is wrong with it


def _customer(problems: fields.Problems, order: dict, settings: PlatformSettings, paths: dict[str, str]) -> dict:
    """customer_data from the billing address and the order's meta_data."""
    billing = order.get("billing")
    if billing is not None and not isinstance(billing, dict):
        problems.add("billing", "billing must be an object")
    billing = billing if isinstance(billing, dict) else {}
    national_id = fields.named(fields.objects(problems, order, "meta_data", "meta_data"), "key", settings.national_id_key, "value")
    data = {name: fields.trimmed(billing.get(name)) for name in ("email", "first_name", "last_name")
            if fields.carries(billing.get(name))}
    paths["customer_data"] = "billing"
    paths.update({f"customer_data.{name}": f"billing.{name}" for name in data})
    if fields.carries(billing.get("phone")):
        data["phone_number"] = fields.phone(billing.get("phone"), billing.get("country"))
        paths["customer_data.phone_number"] = "billing.phone"
    if fields.carries(national_id):
        data["national_id"] = fields.trimmed(national_id)
        paths["customer_data.national_id"] = f"meta_data[{settings.national_id_key}]"
    return data


def translate(topic: str, body: Any, settings: PlatformSettings) -> Translated | Ignored:
    """The guide's document for a WooCommerce order webhook body, Ignored when there is nothing to publish;
    raises gateway.payload.PayloadInvalid (platform paths) when the body cannot be translated."""
    if topic not in TOPICS:
        return Ignored(f"the WooCommerce topic {fields.shown(topic)} is not handled (handled: {', '.join(TOPICS)})")
    order = fields.object_body(body)
    problems = fields.Problems()
    order_id = fields.identifier(problems, order, "id")
    paths = {"transaction_data.transaction_id": "id", "transaction_data.currency": "currency",
             "transaction_data.total_amount": "total", LINE_ITEMS: "line_items"}
    lines, coded = fields.line_items(problems, order, paths, code_key=settings.code_key, attributes="meta_data",
                                     key_field="key")
    status = fields.trimmed(order.get("status"))
    paid = status in PAID_STATUSES
    customer = _customer(problems, order, settings, paths) if paid else {}
    problems.raise_any()
    if status not in (*PAID_STATUSES, "cancelled", "refunded"):
        return Ignored(f"order status {fields.shown(status)} is not a sale yet: a sale is an order in a paid status "
                       f"({', '.join(PAID_STATUSES)}), then cancelled or refunded")
    if not coded:
        return Ignored(f"no line item carries the meta_data key {settings.code_key!r}")
    transaction_id = f"woocommerce:{order_id}"
    if paid:
        stamp = fields.first(("date_paid_gmt", order.get("date_paid_gmt")),
                       ("date_created_gmt", order.get("date_created_gmt")))
        paths["event_timestamp"] = stamp[0] if stamp else "date_created_gmt"
        return Translated({
            "event_type": EVENT_TYPE,
            "event_timestamp": _utc(stamp[1]) if stamp else None,
            "customer_data": customer,
            "transaction_data": {"transaction_id": transaction_id, "currency": fields.trimmed(order.get("currency")),
                                 "total_amount": fields.amount(order.get("total")), "line_items": lines},
        }, paths)
    if status == "cancelled" and not (fields.carries(order.get("date_paid")) or fields.carries(order.get("date_paid_gmt"))):
        return Ignored("order cancelled before it was paid: it was never a sale, so there is nothing to void")
    # WooCommerce keeps no date of the cancellation or refund: the modification that made it is the latest.
    release = {"event_type": VOIDED if status == "cancelled" else REFUNDED,
               "event_timestamp": _utc(order.get("date_modified_gmt")),
               "transaction_data": {"transaction_id": transaction_id}}
    if status == "refunded":  # no line_items: every coded product of the sale came back
        release["transaction_data"]["refund_id"] = FULL_REFUND_ID
    return Translated(release, {"event_timestamp": "date_modified_gmt", "transaction_data.transaction_id": "id"})
