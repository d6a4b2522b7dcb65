"""The payload rules (docs/design.md "Payload rules"), one by one, on gateway.payload.parse_sale."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest

from cli.examples import TRANSACTION_CREATED
from gateway import json_body
from gateway.buyer_rules import BuyerRules
from gateway.payload import MAX_LINE_ITEMS, PayloadInvalid, build_event, parse_sale

NOW = datetime(2025, 9, 13, 15, 0, tzinfo=timezone.utc)
EXAMPLE = json_body.loads(TRANSACTION_CREATED.read_bytes())


def doc(**changes):
    """The guide's example (decoded as the gateway decodes it) with top-level changes."""
    result = copy.deepcopy(EXAMPLE)
    result.update(changes)
    return result


def customer(**fields):
    return doc(customer_data=fields)


def transaction(**changes):
    result = doc()
    result["transaction_data"].update(changes)
    return result


def item(**fields):
    result = doc()
    result["transaction_data"]["line_items"] = [{"quantity": 1, **fields}]
    return result


def errors_of(document) -> dict[str, str]:
    """field -> message of every failure."""
    with pytest.raises(PayloadInvalid) as caught:
        parse_sale(document, NOW)
    return {e.field: e.message for e in caught.value.errors}


def test_the_guide_example_is_valid_and_normalised():
    sale = parse_sale(doc(), NOW)
    assert sale.event_type == "transaction.created"
    assert sale.event_timestamp.ToJsonString() == "2025-09-13T14:30:00Z"
    assert (sale.customer.national_id, sale.customer.email, sale.customer.phone_number) == (
        "123456789", "cliente@email.com", "+573001234567")
    assert (sale.customer.first_name, sale.customer.last_name, sale.customer.whatsapp_number) == (
        "Diego", "López", "+573001234567")
    assert (sale.transaction_id, sale.currency, sale.total_amount) == ("FACT-00123", "COP", "950000.00")
    [line] = sale.line_items
    assert (line.product_sku, line.product_name, line.quantity, line.unit_price, line.autentikapp_code) == (
        "BOLSO-CUERO-01", "Bolso de Cuero Edición Limitada", 1, "950000.00", "a1b2c3d4-e5f6-7890-1234-567890abcdef")


@pytest.mark.parametrize("value", ["transaction.updated", "", None, 5])
def test_event_type_must_be_transaction_created(value):
    assert "event_type" in errors_of(doc(event_type=value))


@pytest.mark.parametrize("value, expected", [
    ("2025-09-13T14:30:00Z", "2025-09-13T14:30:00Z"),
    ("2025-09-13T09:30:00-05:00", "2025-09-13T14:30:00Z"),
    ("2025-09-13T14:30:00.250+00:00", "2025-09-13T14:30:00.250Z"),
])
def test_event_timestamp_with_offset_or_z(value, expected):
    assert parse_sale(doc(event_timestamp=value), NOW).event_timestamp.ToJsonString() == expected


@pytest.mark.parametrize("value", ["2025-09-13T14:30:00", "2025-09-13", "13/09/2025 14:30", "", None, 1757773800,
                                   "0001-01-01T00:00:00+01:00"])
def test_event_timestamp_without_offset_or_unparseable_is_refused(value):
    assert "event_timestamp" in errors_of(doc(event_timestamp=value))


def test_event_timestamp_more_than_a_day_ahead_is_refused_a_little_ahead_is_fine():
    ahead = (NOW + timedelta(hours=23)).isoformat()
    assert parse_sale(doc(event_timestamp=ahead), NOW)
    too_far = (NOW + timedelta(hours=25)).isoformat()
    assert "future" in errors_of(doc(event_timestamp=too_far))["event_timestamp"]


@pytest.mark.parametrize("value, expected_start", [
    ("1970-01-01T00:00:00Z", "is before 2000-01-01: that is a point-of-sale default date"),
    ("1970-01-01T00:00:00.000-05:00", "is before 2000-01-01"),
    ("1900-01-01T00:00:00Z", "is before 2000-01-01"),
    ("1999-12-31T23:59:59Z", "is before 2000-01-01"),
    ("2000-01-01T08:00:00+09:00", "is before 2000-01-01"),  # 1999-12-31T23:00Z
])
def test_a_point_of_sale_default_date_is_refused_and_says_why(value, expected_start):
    message = errors_of(doc(event_timestamp=value))["event_timestamp"]
    assert message.startswith(f"event_timestamp {expected_start}") and "real date" in message


def test_the_date_floor_itself_is_a_date():
    sale = parse_sale(doc(event_timestamp="2000-01-01T00:00:00Z"), NOW)
    assert sale.HasField("event_timestamp") and sale.event_timestamp.ToJsonString() == "2000-01-01T00:00:00Z"


@pytest.mark.parametrize("typed, country, expected", [
    ("300 123 4567", "CO", "+573001234567"),
    ("(300) 123-4567", "CO", "+573001234567"),
    ("55 1234 5678", "MX", "+525512345678"),
    ("9 6123 4567", "CL", "+56961234567"),
    ("+57 300 123 4567", "MX", "+573001234567"),  # a country code always wins over the default
    ("0057 300 123 4567", "PE", "+573001234567"),
])
def test_a_phone_without_country_code_is_read_in_the_tenants_default_country(typed, country, expected):
    sale = parse_sale(customer(phone_number=typed, whatsapp_number=typed), NOW, default_country=country)
    assert (sale.customer.phone_number, sale.customer.whatsapp_number) == (expected, expected)


def test_without_a_default_country_a_phone_without_country_code_is_refused_and_says_how_to_fix_it():
    errors = errors_of(customer(phone_number="300 123 4567"))
    assert "country code" in errors["customer_data.phone_number"]
    assert "default country" in errors["customer_data.phone_number"]


@pytest.mark.parametrize("fields", [{"national_id": "1.234.567-k"}, {"email": "A@B.co"}, {"phone_number": "+56 9 1234 5678"}])
def test_one_contact_field_is_enough(fields):
    assert parse_sale(customer(**fields), NOW)


@pytest.mark.parametrize("fields", [{}, {"first_name": "Ana"}, {"national_id": "", "email": "  ", "phone_number": None}])
def test_at_least_one_contact_field_is_required(fields):
    assert "at least one" in errors_of(customer(**fields))["customer_data"]


def test_contact_fields_are_normalised_like_the_services_do():
    sale = parse_sale(customer(national_id=" 1.234.567-k ", email="Cliente@Email.COM", phone_number="0057 300 123 4567",
                               whatsapp_number="+57 (300) 123-4567", first_name="  Ana   María "), NOW)
    assert (sale.customer.national_id, sale.customer.email, sale.customer.phone_number) == (
        "1234567K", "cliente@email.com", "+573001234567")
    assert (sale.customer.whatsapp_number, sale.customer.first_name) == ("+573001234567", "Ana María")


@pytest.mark.parametrize("field, value", [
    ("email", "not-an-address"), ("phone_number", "12345"), ("national_id", "12#34"),
    ("whatsapp_number", "call me"), ("first_name", "x" * 101), ("last_name", "a\x00b"), ("email", 42),
])
def test_a_bad_contact_field_is_named(field, value):
    errors = errors_of(customer(email="ok@b.co", **{field: value}) if field != "email" else customer(**{field: value}))
    assert f"customer_data.{field}" in errors


def test_customer_data_must_be_an_object():
    assert errors_of(doc(customer_data="x")) == {"customer_data": "customer_data must be an object"}
    assert "customer_data" in errors_of({k: v for k, v in doc().items() if k != "customer_data"})


@pytest.mark.parametrize("value", [None, "", "   ", 123, "x" * 129, "FACT\n1"])
def test_transaction_id_is_required_capped_and_plain(value):
    assert "transaction_data.transaction_id" in errors_of(transaction(transaction_id=value))


def test_transaction_id_is_trimmed():
    assert parse_sale(transaction(transaction_id="  FACT-1 "), NOW).transaction_id == "FACT-1"


@pytest.mark.parametrize("value, expected", [("cop", "COP"), (None, ""), ("", "")])
def test_currency_is_optional_three_letters(value, expected):
    assert parse_sale(transaction(currency=value), NOW).currency == expected


@pytest.mark.parametrize("value", ["PESOS", "C0P", 170])
def test_currency_otherwise_is_refused(value):
    assert "transaction_data.currency" in errors_of(transaction(currency=value))


def test_line_items_must_be_a_list_of_at_most_500_objects():
    assert "transaction_data.line_items" in errors_of(transaction(line_items=None))
    assert "transaction_data.line_items" in errors_of(transaction(line_items={"a": 1}))
    too_many = [{"quantity": 1}] * (MAX_LINE_ITEMS + 1)
    assert "max 500" in errors_of(transaction(line_items=too_many))["transaction_data.line_items"]
    assert len(parse_sale(transaction(line_items=[{"quantity": 1}] * MAX_LINE_ITEMS), NOW).line_items) == 500
    assert "transaction_data.line_items[0]" in errors_of(transaction(line_items=["x"]))
    assert parse_sale(transaction(line_items=[]), NOW).line_items == []


@pytest.mark.parametrize("fields", [{}, {"autentikapp_code": None}, {"autentikapp_code": ""}, {"autentikapp_code": "  "}])
def test_an_item_without_a_code_is_an_ordinary_product_kept_with_an_empty_code(fields):
    [line] = parse_sale(item(product_sku="PLAIN", **fields), NOW).line_items
    assert (line.product_sku, line.autentikapp_code) == ("PLAIN", "")


@pytest.mark.parametrize("code", ["has space", "-leading", "x" * 129, "ü-code"])
def test_a_present_code_must_be_well_formed(code):
    assert "transaction_data.line_items[0].autentikapp_code" in errors_of(item(autentikapp_code=code))


@pytest.mark.parametrize("quantity", [0, -1, 1.0, 1.5, "1", True, None, 1_000_001])
def test_quantity_is_an_integer_of_at_least_one(quantity):
    assert "transaction_data.line_items[0].quantity" in errors_of(item(quantity=quantity))


def test_amounts_keep_the_digits_as_sent():
    raw = (b'{"event_type": "transaction.created", "event_timestamp": "2025-09-13T14:30:00Z",'
           b' "customer_data": {"email": "a@b.co"}, "transaction_data": {"transaction_id": "T", "total_amount": 0.10,'
           b' "line_items": [{"quantity": 2, "unit_price": 9.5E5}, {"quantity": 1, "unit_price": 0},'
           b' {"quantity": 1, "unit_price": 12345678901234567.123456789012}, {"quantity": 1, "unit_price": -0.0}]}}')
    sale = parse_sale(json_body.loads(raw), NOW)
    assert sale.total_amount == "0.10"
    assert [line.unit_price for line in sale.line_items] == ["950000", "0", "12345678901234567.123456789012", "0.0"]


@pytest.mark.parametrize("price", [-1, -0.01, "10", True, 1e30, 0.1234567890123])
def test_prices_are_numbers_of_at_least_zero_within_bounds(price):
    document = item(unit_price=json_body.loads(json.dumps(price).encode()))
    assert "transaction_data.line_items[0].unit_price" in errors_of(document)


@pytest.mark.parametrize("field, cap", [("product_sku", 128), ("product_name", 256)])
def test_item_texts_are_capped(field, cap):
    assert parse_sale(item(**{field: "x" * cap}), NOW)
    assert f"transaction_data.line_items[0].{field}" in errors_of(item(**{field: "x" * (cap + 1)}))


def test_unknown_fields_are_accepted_and_ignored():
    document = doc(extra={"nested": [1, 2]}, version=3)
    document["customer_data"]["loyalty_tier"] = "gold"
    document["transaction_data"]["store"] = {"id": 7}
    document["transaction_data"]["line_items"][0]["color"] = "red"
    assert parse_sale(document, NOW) == parse_sale(doc(), NOW)


def test_every_failing_field_is_reported_at_once():
    document = doc(event_type="x", event_timestamp="yesterday")
    document["customer_data"] = {"email": "bad"}
    document["transaction_data"]["transaction_id"] = ""
    document["transaction_data"]["line_items"] = [{"quantity": 0}, {"quantity": 1, "autentikapp_code": "a b"}]
    assert set(errors_of(document)) == {
        "event_type", "event_timestamp", "customer_data.email", "transaction_data.transaction_id",
        "transaction_data.line_items[0].quantity", "transaction_data.line_items[1].autentikapp_code",
    }


def test_build_event_carries_ids_time_sale_and_the_exact_body():
    raw = TRANSACTION_CREATED.read_bytes()
    sale = parse_sale(doc(), NOW)
    event = build_event("acme", sale, raw, NOW)
    assert event.schema_version == 1 and event.tenant_id == "acme"
    assert event.event_id.startswith("evt_") and len(event.event_id) == 36
    assert event.received_at.ToJsonString() == "2025-09-13T15:00:00Z"
    assert event.sale == sale and event.raw_body == raw
    assert event.buyer_rules == BuyerRules().message()


def test_build_event_carries_the_tenants_buyer_rules():
    rules = BuyerRules("CO", ("222222222",), ("caja@tienda.co",), ("+576014567890",))
    event = build_event("acme", parse_sale(doc(), NOW), b"{}", NOW, rules)
    assert event.buyer_rules.default_country == "CO"
    assert list(event.buyer_rules.ignored_emails) == ["caja@tienda.co"]
    assert list(event.buyer_rules.ignored_phone_numbers) == ["+576014567890"]
