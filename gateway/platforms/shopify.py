"""Shopify webhook bodies (by X-Shopify-Topic) -> the guide's document.

orders/create is the sale, refunds/create a refund of the refunded line items that carry a code, and
orders/cancelled the void. A product's code is a line-item property (settings.code_key), the buyer's
national id an order note attribute (settings.national_id_key). An order without any coded line item is
not ours (Ignored), and so are its refunds and its cancellation: no sale of ours was accepted for it.
"""

from __future__ import annotations

from typing import Any

from gateway.payload import EVENT_TYPE, REFUNDED, VOIDED
from gateway.platforms import Ignored, PlatformSettings, Translated, fields

TOPICS = ("orders/create", "refunds/create", "orders/cancelled")
LINE_ITEMS = fields.LINE_ITEMS


def _dict(value: Any) -> dict:
    """A nested object the order may carry (customer, addresses; null for a guest); {} when absent."""
    return value if isinstance(value, dict) else {}


def _no_code(settings: PlatformSettings) -> Ignored:
    return Ignored(f"no line item carries the property {settings.code_key!r}")


def _sale_lines(problems: fields.Problems, order: dict, settings: PlatformSettings,
                paths: dict[str, str]) -> tuple[list[dict], int]:
    """Every line item of the order (its code a line-item property, its name the title), and how many
    carry a code."""
    return fields.line_items(problems, order, paths, code_key=settings.code_key, attributes="properties",
                             key_field="name", name_fields=("title", "name"))


def _customer(problems: fields.Problems, order: dict, settings: PlatformSettings, paths: dict[str, str]) -> dict:
    """customer_data from the order, its customer and its billing address (first present wins)."""
    customer, billing = _dict(order.get("customer")), _dict(order.get("billing_address"))
    country = fields.first(("", billing.get("country_code")), ("", _dict(order.get("shipping_address")).get("country_code")))
    notes = fields.objects(problems, order, "note_attributes", "note_attributes")
    found = {
        "email": fields.first(("email", order.get("email")), ("customer.email", customer.get("email"))),
        "phone_number": fields.first(("phone", order.get("phone")), ("customer.phone", customer.get("phone")),
                               ("billing_address.phone", billing.get("phone"))),
        "first_name": fields.first(("customer.first_name", customer.get("first_name")),
                             ("billing_address.first_name", billing.get("first_name"))),
        "last_name": fields.first(("customer.last_name", customer.get("last_name")),
                            ("billing_address.last_name", billing.get("last_name"))),
        "national_id": fields.first((f"note_attributes[{settings.national_id_key}]",
                               fields.named(notes, "name", settings.national_id_key, "value"))),
    }
    data = {}
    paths["customer_data"] = "customer"
    for name, source in found.items():
        if source is not None:
            paths[f"customer_data.{name}"], data[name] = source[0], fields.trimmed(source[1])
    if "phone_number" in data:
        data["phone_number"] = fields.phone(data["phone_number"], country[1] if country else None)
    return data


def _order_created(order: dict, settings: PlatformSettings) -> Translated | Ignored:
    problems = fields.Problems()
    order_id = fields.identifier(problems, order, "id")
    paths = {"event_timestamp": "created_at", "transaction_data.transaction_id": "id",
             "transaction_data.currency": "currency", "transaction_data.total_amount": "total_price",
             LINE_ITEMS: "line_items"}
    lines, coded = _sale_lines(problems, order, settings, paths)
    customer = _customer(problems, order, settings, paths)
    problems.raise_any()
    if not coded:
        return _no_code(settings)
    return Translated({
        "event_type": EVENT_TYPE,
        "event_timestamp": fields.trimmed(order.get("created_at")),
        "customer_data": customer,
        "transaction_data": {"transaction_id": f"shopify:{order_id}", "currency": fields.trimmed(order.get("currency")),
                             "total_amount": fields.amount(order.get("total_price")), "line_items": lines},
    }, paths)


def _refund_created(refund: dict, settings: PlatformSettings) -> Translated | Ignored:
    problems = fields.Problems()
    refund_id, order_id = fields.identifier(problems, refund, "id"), fields.identifier(problems, refund, "order_id")
    stamp = fields.first(("created_at", refund.get("created_at")), ("processed_at", refund.get("processed_at")))
    paths = {"event_timestamp": stamp[0] if stamp else "created_at", "transaction_data.transaction_id": "order_id",
             "transaction_data.refund_id": "id", LINE_ITEMS: "refund_line_items"}
    lines = []
    for index, entry in fields.objects(problems, refund, "refund_line_items", "refund_line_items"):
        base = f"refund_line_items[{index}].line_item"
        item = entry.get("line_item")
        if item is not None and not isinstance(item, dict):
            problems.add(base, f"{base} must be an object")
            continue
        code = fields.named(fields.objects(problems, _dict(item), "properties", f"{base}.properties"), "name",
                      settings.code_key, "value")
        if fields.carries(code):
            guide = f"{LINE_ITEMS}[{len(lines)}]"
            paths[guide] = f"refund_line_items[{index}]"
            paths[f"{guide}.autentikapp_code"] = f"{base}.properties[{settings.code_key}]"
            lines.append({"autentikapp_code": fields.trimmed(code)})
    problems.raise_any()
    if not lines:  # never a refund without line_items: in the guide that would release every product
        return Ignored(f"no refunded line item carries the property {settings.code_key!r} "
                       "(e.g. a shipping-only refund): nothing of ours came back")
    return Translated({
        "event_type": REFUNDED,
        "event_timestamp": fields.trimmed(stamp[1]) if stamp else None,
        "transaction_data": {"transaction_id": f"shopify:{order_id}", "refund_id": refund_id, "line_items": lines},
    }, paths)


def _order_cancelled(order: dict, settings: PlatformSettings) -> Translated | Ignored:
    problems = fields.Problems()
    order_id = fields.identifier(problems, order, "id")
    _, coded = _sale_lines(problems, order, settings, {})
    problems.raise_any()
    if not coded:
        return _no_code(settings)
    return Translated({
        "event_type": VOIDED,
        "event_timestamp": fields.trimmed(order.get("cancelled_at")),
        "transaction_data": {"transaction_id": f"shopify:{order_id}"},
    }, {"event_timestamp": "cancelled_at", "transaction_data.transaction_id": "id"})


_TRANSLATORS = {"orders/create": _order_created, "refunds/create": _refund_created,
                "orders/cancelled": _order_cancelled}


def translate(topic: str, body: Any, settings: PlatformSettings) -> Translated | Ignored:
    """The guide's document for a Shopify webhook body, Ignored when there is nothing of ours in it; raises
    gateway.payload.PayloadInvalid (platform paths) when the body cannot be translated."""
    translator = _TRANSLATORS.get(topic)
    if translator is None:
        return Ignored(f"the Shopify topic {fields.shown(topic)} is not handled (handled: {', '.join(TOPICS)})")
    return translator(fields.object_body(body), settings)
