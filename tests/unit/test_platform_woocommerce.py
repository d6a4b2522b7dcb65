"""WooCommerce order webhooks translated onto the guide's document (gateway/platforms/woocommerce.py),
proved on the WooCommerce REST API v3 docs' order examples (tests/fixtures/platforms) and through the
real payload rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from autentikapp.v1 import events_pb2
from gateway import json_body
from gateway.payload import PayloadInvalid, parse_event
from gateway.platforms import Ignored, PlatformSettings, Translated, woocommerce

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platforms"
DEFAULT = PlatformSettings()
NOW = datetime(2017, 3, 23, tzinfo=UTC)  # the samples: March 2017


def load(name: str):
    """A fixture decoded as the gateway decodes bodies (Decimal numbers, no floats)."""
    return json_body.loads((FIXTURES / name).read_bytes())


def coded(order: dict, code_key: str = "autentikapp_code", national_id_key: str = "national_id") -> dict:
    """The order with a code on its second line item and a national id in its meta_data."""
    order["line_items"][1]["meta_data"].append({"id": 9001, "key": code_key, "value": "W-0002"})
    order["meta_data"].append({"id": 9002, "key": national_id_key, "value": "12.345.678"})
    return order


def sample(status: str | None = None, **changes) -> dict:
    order = coded(load("woocommerce_order.json"))
    if status is not None:
        order["status"] = status
    order.update(changes)
    return order


def translated(body: dict, settings: PlatformSettings = DEFAULT, topic: str = "order.updated") -> Translated:
    result = woocommerce.translate(topic, body, settings)
    assert isinstance(result, Translated), result
    return result


def test_paid_statuses_are_woocommerces():
    assert woocommerce.PAID_STATUSES == ("processing", "completed")


@pytest.mark.parametrize("topic", woocommerce.TOPICS)
def test_a_paid_order_is_accepted_as_the_sale(topic):
    sale = parse_event(translated(sample(), topic=topic).document, NOW, default_country="")
    assert isinstance(sale, events_pb2.Sale)
    assert sale.transaction_id == "woocommerce:727"
    assert [item.autentikapp_code for item in sale.line_items] == ["", "W-0002"]
    assert [item.unit_price for item in sale.line_items] == ["3", "12"]
    assert sale.line_items[1].product_sku == "Bar3" and sale.line_items[0].quantity == 2
    assert sale.total_amount == "29.35" and sale.currency == "USD"
    assert sale.customer.email == "john.doe@example.com"
    assert sale.customer.phone_number == "+15555555555"  # "(555) 555-5555" read in billing.country US
    assert (sale.customer.first_name, sale.customer.last_name) == ("John", "Doe")
    assert sale.customer.national_id == "12345678"
    # date_paid_gmt "2017-03-22T19:28:08" is UTC without an offset.
    assert sale.event_timestamp.ToDatetime(tzinfo=UTC) == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)


def test_an_order_without_codes_is_ignored():
    result = woocommerce.translate("order.created", load("woocommerce_order.json"), DEFAULT)
    assert result == Ignored("no line item carries the meta_data key 'autentikapp_code'")


@pytest.mark.parametrize("status", ["pending", "on-hold", "failed", "draft", "checkout-draft"])
def test_an_unpaid_order_is_ignored_naming_its_status(status):
    result = woocommerce.translate("order.created", sample(status), DEFAULT)
    assert isinstance(result, Ignored) and repr(status) in result.reason and "processing, completed" in result.reason


def test_a_partial_refund_leaves_the_sale_as_it_was():
    """Order 723 of the docs lists two partial refunds (id and total only): the sale, unchanged."""
    order = coded(load("woocommerce_orders_list.json")[1])
    assert order["status"] == "completed" and len(order["refunds"]) == 2
    with_refunds = translated(order)
    assert with_refunds.document == translated(dict(order, refunds=[])).document
    sale = parse_event(with_refunds.document, NOW, default_country="")
    assert sale.transaction_id == "woocommerce:723"
    assert [item.autentikapp_code for item in sale.line_items][1] == "W-0002"
    # date_paid_gmt is null in this sample: the sale is dated by date_created_gmt.
    assert with_refunds.platform_path("event_timestamp") == "date_created_gmt"
    assert sale.event_timestamp.ToDatetime(tzinfo=UTC) == datetime(2017, 3, 21, 19, 16, tzinfo=UTC)


def test_a_full_refund_releases_every_coded_product():
    result = translated(sample("refunded"))
    assert "line_items" not in result.document["transaction_data"]
    release = parse_event(result.document, NOW, default_country="")
    assert release.kind == events_pb2.Release.KIND_REFUND
    assert (release.transaction_id, release.refund_id, list(release.codes)) == ("woocommerce:727", "full", [])


def test_cancelled_after_payment_is_the_void_and_before_payment_is_ignored():
    release = parse_event(translated(sample("cancelled")).document, NOW, default_country="")
    assert release.kind == events_pb2.Release.KIND_VOID and release.transaction_id == "woocommerce:727"
    assert release.event_timestamp.ToDatetime(tzinfo=UTC) == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    unpaid = woocommerce.translate("order.updated", sample("cancelled", date_paid=None, date_paid_gmt=None), DEFAULT)
    assert isinstance(unpaid, Ignored) and "never" in unpaid.reason


def test_keys_are_the_tenants():
    tenant = PlatformSettings(code_key="serial", national_id_key="cedula")
    order = coded(load("woocommerce_order.json"), "serial", "cedula")
    order["line_items"][0]["meta_data"].append({"id": 9003, "key": "autentikapp_code", "value": "NOT-THIS-TENANTS"})
    sale = parse_event(translated(order, tenant).document, NOW, default_country="")
    assert [item.autentikapp_code for item in sale.line_items] == ["", "W-0002"]
    assert sale.customer.national_id == "12345678"
    assert isinstance(woocommerce.translate("order.created", sample(), tenant), Ignored)


def test_other_topics_are_ignored():
    result = woocommerce.translate("product.updated", sample(), DEFAULT)
    assert isinstance(result, Ignored) and "order.created" in result.reason


def test_refused_values_are_named_by_their_woocommerce_path():
    order = sample()
    order["billing"]["email"] = "john.doe@"
    order["line_items"][0]["quantity"] = 0
    order["line_items"][1]["meta_data"][-1]["value"] = ["W-0002"]
    order["total"] = "twenty"
    result = translated(order)
    with pytest.raises(PayloadInvalid) as refused:
        parse_event(result.document, NOW, default_country="")
    assert {result.platform_path(error.field) for error in refused.value.errors} == {
        "billing.email", "line_items[0].quantity", "line_items[1].meta_data[autentikapp_code]", "total"}


def test_untranslatable_bodies_are_refused_with_every_woocommerce_path_at_once():
    with pytest.raises(PayloadInvalid) as refused:
        woocommerce.translate("order.created", "webhook_id=1", DEFAULT)
    assert [error.field for error in refused.value.errors] == [""]
    order = sample()
    order["id"] = None
    order["meta_data"] = {"national_id": "1"}
    order["line_items"][0]["meta_data"] = "none"
    order["billing"] = []
    with pytest.raises(PayloadInvalid) as refused:
        woocommerce.translate("order.created", order, DEFAULT)
    assert {error.field for error in refused.value.errors} == {"id", "meta_data", "line_items[0].meta_data", "billing"}
    with pytest.raises(PayloadInvalid) as refused:
        woocommerce.translate("order.created", sample(line_items={"0": {}}), DEFAULT)
    assert [error.field for error in refused.value.errors] == ["line_items"]


def test_a_gmt_time_that_has_an_offset_keeps_it():
    document = translated(sample(date_paid_gmt="2017-03-22T19:28:08+00:00")).document
    assert document["event_timestamp"] == "2017-03-22T19:28:08+00:00"
    assert translated(sample()).document["event_timestamp"] == "2017-03-22T19:28:08Z"


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b"webhook_id=42", "application/x-www-form-urlencoded; charset=UTF-8", True),
    (b"webhook_id=42", "", True),
    (b"webhook_id=42", "application/json", False),
    (b"webhook_id=abc", "application/x-www-form-urlencoded", False),
    (b"webhook_id=42&topic=order.created", "application/x-www-form-urlencoded", False),
    (b'{"webhook_id": 42}', "application/x-www-form-urlencoded", False),
    (b"", "application/x-www-form-urlencoded", False),
])
def test_is_ping(body, content_type, expected):
    assert woocommerce.is_ping(body, content_type) is expected
