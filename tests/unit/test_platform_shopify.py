"""Shopify webhook bodies translated onto the guide's document (gateway/platforms/shopify.py), proved on
Shopify's own sample Order and Refund (tests/fixtures/platforms) and through the real payload rules."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from autentikapp.v1 import events_pb2
from gateway import json_body
from gateway.payload import PayloadInvalid, parse_event
from gateway.platforms import Ignored, PlatformSettings, Translated, shopify

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platforms"
DEFAULT = PlatformSettings()
ORDER_NOW = datetime(2008, 1, 11, tzinfo=UTC)  # the sample order: 2008-01-10T11:00:00-05:00
REFUND_NOW = datetime(2016, 6, 21, tzinfo=UTC)  # the sample refund: 2016-06-20T13:35:06-04:00


def load(name: str) -> dict:
    """A fixture decoded as the gateway decodes bodies (Decimal numbers, no floats)."""
    return json_body.loads((FIXTURES / name).read_bytes())


def sample_order() -> dict:
    return load("shopify_orders_create.json")["order"]


def sample_refund() -> dict:
    return load("shopify_refunds_create.json")["refund"]


def coded_order(code_key: str = "autentikapp_code", national_id_key: str = "national_id") -> dict:
    """The sample order with codes on its first and third line items and a national id note attribute."""
    order = sample_order()
    order["line_items"][0]["properties"].append({"name": code_key, "value": " SKU-GREEN-0001 "})
    order["line_items"][2]["properties"].append({"name": code_key, "value": "SKU-BLACK-0003"})
    order["note_attributes"].append({"name": national_id_key, "value": "1.234.567-k"})
    return order


def translated(topic: str, body: dict, settings: PlatformSettings = DEFAULT) -> Translated:
    result = shopify.translate(topic, body, settings)
    assert isinstance(result, Translated), result
    return result


def refused_fields(result: Translated, now: datetime) -> set[str]:
    """The platform paths of the fields the payload rules refuse."""
    with pytest.raises(PayloadInvalid) as refused:
        parse_event(result.document, now, default_country="")
    return {result.platform_path(error.field) for error in refused.value.errors}


def test_orders_create_sample_is_accepted_as_the_sale():
    sale = parse_event(translated("orders/create", coded_order()).document, ORDER_NOW, default_country="")
    assert isinstance(sale, events_pb2.Sale)
    assert sale.transaction_id == "shopify:450789469"
    assert [item.autentikapp_code for item in sale.line_items] == ["SKU-GREEN-0001", "", "SKU-BLACK-0003"]
    assert [item.product_sku for item in sale.line_items] == ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"]
    assert sale.line_items[0].product_name == "IPod Nano - 8gb" and sale.line_items[0].quantity == 1
    assert sale.line_items[0].unit_price == "199.00" and sale.total_amount == "409.94" and sale.currency == "USD"
    assert sale.customer.email == "bob.norman@hostmail.com"
    # "555-625-1199" has no country code: read in the billing address's country (US), not the tenant's.
    assert sale.customer.phone_number == "+15556251199"
    assert (sale.customer.first_name, sale.customer.last_name) == ("Bob", "Norman")
    assert sale.customer.national_id == "1234567K"
    assert sale.event_timestamp.ToDatetime(tzinfo=UTC) == datetime(2008, 1, 10, 16, tzinfo=UTC)


def test_decimal_strings_become_decimals_with_their_digits():
    document = translated("orders/create", coded_order()).document
    assert document["transaction_data"]["total_amount"] == Decimal("409.94")
    assert str(document["transaction_data"]["line_items"][1]["unit_price"]) == "199.00"


def test_an_order_without_codes_is_ignored_naming_the_key():
    assert shopify.translate("orders/create", sample_order(), DEFAULT) == Ignored(
        "no line item carries the property 'autentikapp_code'")


def test_keys_are_the_tenants():
    tenant = PlatformSettings(code_key="serial", national_id_key="cedula")
    order = coded_order("serial", "cedula")
    order["line_items"][1]["properties"].append({"name": "autentikapp_code", "value": "NOT-THIS-TENANTS"})
    sale = parse_event(translated("orders/create", order, tenant).document, ORDER_NOW, default_country="")
    assert [item.autentikapp_code for item in sale.line_items] == ["SKU-GREEN-0001", "", "SKU-BLACK-0003"]
    assert sale.customer.national_id == "1234567K"
    assert isinstance(shopify.translate("orders/create", coded_order(), tenant), Ignored)


def test_buyer_falls_back_from_order_to_customer_to_billing_address():
    order = coded_order()
    order["email"], order["phone"] = None, "+57 300 123 4567"
    order["customer"]["first_name"] = None
    result = translated("orders/create", order)
    sale = parse_event(result.document, ORDER_NOW, default_country="")
    assert sale.customer.email == "bob.norman@hostmail.com" and sale.customer.phone_number == "+573001234567"
    assert result.platform_path("customer_data.email") == "customer.email"
    assert result.platform_path("customer_data.first_name") == "billing_address.first_name"


def test_refunds_create_sample_releases_the_refunded_coded_items():
    refund = sample_refund()
    refund["refund_line_items"][1]["line_item"]["properties"].append({"name": "autentikapp_code", "value": "G-0002"})
    result = translated("refunds/create", refund)
    release = parse_event(result.document, REFUND_NOW, default_country="")
    assert release.kind == events_pb2.Release.KIND_REFUND
    assert (release.transaction_id, release.refund_id) == ("shopify:450789469", "509562969")
    assert list(release.codes) == ["G-0002"]
    assert result.platform_path("transaction_data.line_items[0].autentikapp_code") == (
        "refund_line_items[1].line_item.properties[autentikapp_code]")


@pytest.mark.parametrize("refund_line_items", [None, []], ids=["sample-without-codes", "shipping-only"])
def test_a_refund_without_coded_items_is_ignored_never_every_product(refund_line_items):
    refund = sample_refund()
    if refund_line_items is not None:
        refund["refund_line_items"] = refund_line_items
    result = shopify.translate("refunds/create", refund, DEFAULT)
    assert isinstance(result, Ignored) and "autentikapp_code" in result.reason


def test_orders_cancelled_is_the_void():
    order = coded_order()
    order["cancelled_at"], order["cancel_reason"] = "2008-01-10T12:00:00-05:00", "customer"
    release = parse_event(translated("orders/cancelled", order).document, ORDER_NOW, default_country="")
    assert release.kind == events_pb2.Release.KIND_VOID and release.transaction_id == "shopify:450789469"
    assert release.event_timestamp.ToDatetime(tzinfo=UTC) == datetime(2008, 1, 10, 17, tzinfo=UTC)
    assert isinstance(shopify.translate("orders/cancelled", sample_order(), DEFAULT), Ignored)


def test_other_topics_are_ignored_naming_the_handled_ones():
    result = shopify.translate("orders/updated", coded_order(), DEFAULT)
    assert isinstance(result, Ignored) and all(topic in result.reason for topic in shopify.TOPICS)


def test_refused_values_are_named_by_their_shopify_path():
    order = coded_order()
    order["email"] = "not-an-email"
    order["line_items"][2]["quantity"] = 0
    order["line_items"][0]["properties"][-1]["value"] = "bad code!"
    order["billing_address"]["phone"] = "555-555-SHIP"  # no country code and not a number: passed as found
    assert refused_fields(translated("orders/create", order), ORDER_NOW) == {
        "email", "line_items[2].quantity", "line_items[0].properties[autentikapp_code]", "billing_address.phone"}


def test_a_cancellation_without_its_date_is_refused_at_cancelled_at():
    assert refused_fields(translated("orders/cancelled", coded_order()), ORDER_NOW) == {"cancelled_at"}


def test_untranslatable_bodies_are_refused_with_every_shopify_path_at_once():
    with pytest.raises(PayloadInvalid) as refused:
        shopify.translate("orders/create", ["not", "an", "object"], DEFAULT)
    assert [error.field for error in refused.value.errors] == [""]
    order = coded_order()
    del order["id"]
    order["note_attributes"] = {"national_id": "1"}
    order["line_items"][1]["properties"] = "engraving"
    order["line_items"].append("not an item")
    with pytest.raises(PayloadInvalid) as refused:
        shopify.translate("orders/create", order, DEFAULT)
    assert {error.field for error in refused.value.errors} == {
        "id", "note_attributes", "line_items[1].properties", "line_items[3]"}
    refund = sample_refund()
    refund["refund_line_items"][0]["line_item"]["properties"] = {}
    del refund["order_id"]
    with pytest.raises(PayloadInvalid) as refused:
        shopify.translate("refunds/create", refund, DEFAULT)
    assert {error.field for error in refused.value.errors} == {"order_id", "refund_line_items[0].line_item.properties"}


def test_platform_path_exact_then_longest_prefix_then_unchanged():
    result = Translated({}, {"transaction_data.line_items": "line_items",
                             "transaction_data.line_items[1]": "line_items[3]",
                             "transaction_data.line_items[1].product_sku": "line_items[3].sku"})
    assert result.platform_path("transaction_data.line_items[1].product_sku") == "line_items[3].sku"
    assert result.platform_path("transaction_data.line_items[1].quantity") == "line_items[3].quantity"
    assert result.platform_path("transaction_data.line_items[10].quantity") == "line_items[10].quantity"
    assert result.platform_path("transaction_data.line_items_count") == "transaction_data.line_items_count"
    assert result.platform_path("event_type") == "event_type"


def test_translation_does_not_change_the_body():
    order = coded_order()
    before = copy.deepcopy(order)
    shopify.translate("orders/create", order, DEFAULT)
    assert order == before


def test_a_long_topic_is_shortened_in_the_reason():
    """The reason is answered and logged: a sender must not be able to write kilobytes into it."""
    ignored = shopify.translate("orders/" + "c" * 8000, {}, PlatformSettings())
    assert isinstance(ignored, Ignored) and len(ignored.reason) < 200 and "ccc…" in ignored.reason
