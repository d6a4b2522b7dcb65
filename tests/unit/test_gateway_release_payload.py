"""The payload rules of refunds and voids (gateway/payload_releases.py, through gateway.payload.parse_event),
their event ids, their content digest and their bus message (gateway.payload.build_event)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autentikapp.v1 import events_pb2
from cli.examples import TRANSACTION_CREATED
from common.limits import MAX_LINE_ITEMS, MAX_REFUND_ID, MAX_TRANSACTION_ID
from gateway import json_body
from gateway.event_ids import content_digest, event_id, is_correction, release_digest
from gateway.payload import (
    PayloadInvalid,
    build_event,
    event_id_of,
    parse_event,
    parse_sale,
)
from gateway.payload_releases import parse_release

NOW = datetime(2025, 9, 20, 15, 0, tzinfo=timezone.utc)
CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"
OTHER_CODE = "b2c3d4e5-f6a7-8901-2345-67890abcdef1"
Release = events_pb2.Release
# The examples for the guide and the contract, as a sender would send them.
REFUNDED_JSON = """{
  "event_type": "transaction.refunded",
  "event_timestamp": "2025-09-14T10:15:00-05:00",
  "transaction_data": {
    "transaction_id": "FACT-00123",
    "refund_id": "NC-00045",
    "line_items": [
      {
        "product_sku": "BOLSO-CUERO-01",
        "product_name": "Bolso de Cuero Edición Limitada",
        "quantity": 1,
        "unit_price": 950000.00,
        "autentikapp_code": "a1b2c3d4-e5f6-7890-1234-567890abcdef"
      }
    ]
  }
}"""
VOIDED_JSON = """{
  "event_type": "transaction.voided",
  "event_timestamp": "2025-09-13T14:45:00Z",
  "transaction_data": {
    "transaction_id": "FACT-00123"
  }
}"""
REFUNDED = json_body.loads(REFUNDED_JSON.encode())
VOIDED = json_body.loads(VOIDED_JSON.encode())


def refund(**transaction_changes):
    """The refund example with transaction_data fields changed (None drops one)."""
    result = copy.deepcopy(REFUNDED)
    result["transaction_data"].update(transaction_changes)
    result["transaction_data"] = {k: v for k, v in result["transaction_data"].items() if v is not None}
    return result


def void(**transaction_changes):
    """The void example with transaction_data fields changed."""
    result = copy.deepcopy(VOIDED)
    result["transaction_data"].update(transaction_changes)
    return result


def items(*entries):
    """A refund returning these line items."""
    return refund(line_items=list(entries))


def errors_of(document) -> dict[str, str]:
    """field -> message of every failure."""
    with pytest.raises(PayloadInvalid) as caught:
        parse_event(document, NOW)
    return {e.field: e.message for e in caught.value.errors}


# -- the examples --------------------------------------------------------------------------------------

def test_the_refund_example_is_valid():
    release = parse_event(REFUNDED, NOW)
    assert isinstance(release, events_pb2.Release)
    assert release.kind == Release.KIND_REFUND
    assert release.event_timestamp.ToJsonString() == "2025-09-14T15:15:00Z"
    assert (release.transaction_id, release.refund_id, list(release.codes)) == ("FACT-00123", "NC-00045", [CODE])


def test_the_void_example_is_valid():
    release = parse_event(VOIDED, NOW)
    assert release == Release(kind=Release.KIND_VOID, transaction_id="FACT-00123",
                              event_timestamp=release.event_timestamp)
    assert release.event_timestamp.ToJsonString() == "2025-09-13T14:45:00Z"
    assert release.refund_id == "" and list(release.codes) == []


def test_a_sale_is_parsed_by_parse_event_exactly_as_by_parse_sale():
    sale_document = json_body.loads(TRANSACTION_CREATED.read_bytes())
    assert parse_event(sale_document, NOW, default_country="CO") == parse_sale(sale_document, NOW, "CO")
    sale_document["event_type"] = "  transaction.created "
    assert isinstance(parse_event(sale_document, NOW), events_pb2.Sale)
    sale_document["customer_data"] = {}
    assert "customer_data" in errors_of(sale_document), "a sale keeps every sale rule"


def test_parse_sale_alone_refuses_refunds_and_voids():
    """parse_sale is a sale's rules only; the endpoint calls parse_event, which dispatches."""
    for document in (REFUNDED, VOIDED):
        with pytest.raises(PayloadInvalid) as caught:
            parse_sale(document, NOW)
        assert {e.field: e.message for e in caught.value.errors}["event_type"] == (
            "event_type must be 'transaction.created'")


# -- event_type ----------------------------------------------------------------------------------------

EVERY_TYPE = "event_type must be one of 'transaction.created', 'transaction.refunded', 'transaction.voided'"


@pytest.mark.parametrize("value, message", [
    ("transaction.updated", EVERY_TYPE),
    ("transaction.refund", EVERY_TYPE),
    ("TRANSACTION.REFUNDED", EVERY_TYPE),
    ("", "event_type is required"),
    ("   ", "event_type is required"),
    (None, "event_type is required"),
    (5, "event_type must be a string"),
    ("x" * 65, "event_type is too long (max 64 characters)"),
    ("transaction.\nvoided", "event_type must not contain control characters"),
])
def test_another_event_type_is_refused_naming_the_three(value, message):
    assert errors_of(refund() | {"event_type": value}) == {"event_type": message}


def test_an_unknown_event_type_still_reports_the_fields_every_event_has():
    assert errors_of({"event_type": "transaction.updated", "event_timestamp": "yesterday"}) == {
        "event_type": EVERY_TYPE,
        "event_timestamp": "event_timestamp must be an ISO 8601 date-time, like 2025-09-13T14:30:00Z",
        "transaction_data": "transaction_data is required",
    }
    assert errors_of({"transaction_data": {"transaction_id": ""}}) == {
        "event_type": "event_type is required",
        "event_timestamp": "event_timestamp is required",
        "transaction_data.transaction_id": "transaction_data.transaction_id is required",
    }


def test_parse_release_alone_names_the_two_release_types():
    with pytest.raises(PayloadInvalid) as caught:
        parse_release(json_body.loads(TRANSACTION_CREATED.read_bytes()), NOW)
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("event_type", "event_type must be one of 'transaction.refunded', 'transaction.voided'")]


@pytest.mark.parametrize("value, kind", [(" transaction.refunded ", Release.KIND_REFUND),
                                         ("\ttransaction.voided", Release.KIND_VOID)])
def test_event_type_is_trimmed(value, kind):
    assert parse_event(refund() | {"event_type": value}, NOW).kind == kind


@pytest.mark.parametrize("document", [[], "x", None, 3, [REFUNDED]])
def test_the_body_must_be_an_object(document):
    assert errors_of(document) == {"": "the body must be a JSON object"}


# -- event_timestamp: a sale's rules -------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("2025-09-13T14:30:00Z", "2025-09-13T14:30:00Z"),
    ("2025-09-13T09:30:00-05:00", "2025-09-13T14:30:00Z"),
    ("2025-09-13T14:30:00.250+00:00", "2025-09-13T14:30:00.250Z"),
    ("2000-01-01T00:00:00Z", "2000-01-01T00:00:00Z"),
    ((NOW + timedelta(hours=23)).isoformat(), "2025-09-21T14:00:00Z"),
])
@pytest.mark.parametrize("example", [REFUNDED, VOIDED])
def test_event_timestamp_with_offset_or_z(example, value, expected):
    assert parse_event(example | {"event_timestamp": value}, NOW).event_timestamp.ToJsonString() == expected


FLOOR = ("event_timestamp is before 2000-01-01: that is a point-of-sale default date, not the time of the sale; "
         "send the sale's real date and time")


@pytest.mark.parametrize("value, message", [
    (None, "event_timestamp is required"),
    ("", "event_timestamp is required"),
    (1757773800, "event_timestamp must be a string"),
    ("2025-09-13T14:30:00", "event_timestamp must include a UTC offset or Z, like 2025-09-13T14:30:00Z"),
    ("2025-09-13", "event_timestamp must include a UTC offset or Z, like 2025-09-13T14:30:00Z"),
    ("13/09/2025 14:30", "event_timestamp must be an ISO 8601 date-time, like 2025-09-13T14:30:00Z"),
    ("2" * 65, "event_timestamp is too long (max 64 characters)"),
    ("0001-01-01T00:00:00+01:00", "event_timestamp is out of range"),
    ("1970-01-01T00:00:00Z", FLOOR),
    ("2000-01-01T08:00:00+09:00", FLOOR),
    ((NOW + timedelta(hours=25)).isoformat(), "event_timestamp is more than 24 hours in the future"),
])
@pytest.mark.parametrize("example", [REFUNDED, VOIDED])
def test_event_timestamp_is_refused_like_a_sales(example, value, message):
    assert errors_of(example | {"event_timestamp": value}) == {"event_timestamp": message}


# -- transaction_data ----------------------------------------------------------------------------------

@pytest.mark.parametrize("example", [REFUNDED, VOIDED])
def test_transaction_data_is_a_required_object(example):
    without = {k: v for k, v in example.items() if k != "transaction_data"}
    assert errors_of(without) == {"transaction_data": "transaction_data is required"}
    assert errors_of(example | {"transaction_data": ["FACT-00123"]}) == {
        "transaction_data": "transaction_data must be an object"}


@pytest.mark.parametrize("name", ["transaction_id", "refund_id"])
@pytest.mark.parametrize("value, message", [
    (None, "{path} is required"),
    ("", "{path} is required"),
    ("   ", "{path} is required"),
    (123, "{path} must be a string"),
    ("x" * 129, "{path} is too long (max 128 characters)"),
    ("NC\n1", "{path} must not contain control characters"),
    ("NC\x7f1", "{path} must not contain control characters"),
])
def test_a_refund_needs_the_sales_transaction_id_and_its_own_refund_id(name, value, message):
    path = f"transaction_data.{name}"
    assert errors_of(refund(**{name: value})) == {path: message.format(path=path)}


@pytest.mark.parametrize("name", ["transaction_id", "refund_id"])
def test_identifiers_are_trimmed_kept_as_sent_and_may_fill_their_cap(name):
    release = parse_event(refund(**{name: "  Nc 0045/ü "}), NOW)
    assert getattr(release, name) == "Nc 0045/ü"
    assert MAX_TRANSACTION_ID == MAX_REFUND_ID == 128
    assert getattr(parse_event(refund(**{name: "x" * 128}), NOW), name) == "x" * 128


@pytest.mark.parametrize("value, message", [
    (None, "transaction_data.transaction_id is required"),
    ("x" * 129, "transaction_data.transaction_id is too long (max 128 characters)"),
    ("FACT\t1", "transaction_data.transaction_id must not contain control characters"),
])
def test_a_void_needs_the_sales_transaction_id(value, message):
    document = void(transaction_id=value)
    assert errors_of(document) == {"transaction_data.transaction_id": message}


def test_a_void_reads_nothing_else():
    noisy = void(refund_id=["not", "read"], line_items="not read", currency=5, total_amount="x")
    noisy["customer_data"] = "not read either"
    assert parse_event(noisy, NOW) == parse_event(VOIDED, NOW)


@pytest.mark.parametrize("customer_data", [{"email": "not-an-address"}, "x", {}, None, {"national_id": "123"}])
def test_a_refund_does_not_read_customer_data(customer_data):
    assert parse_event(REFUNDED | {"customer_data": customer_data}, NOW) == parse_event(REFUNDED, NOW)


def test_unknown_fields_are_accepted_and_ignored():
    document = refund(store={"id": 7}, currency="not read", total_amount=-1)
    document["extra"] = [1, 2]
    document["transaction_data"]["line_items"][0]["color"] = "red"
    assert parse_event(document, NOW) == parse_event(REFUNDED, NOW)


# -- the returned products -----------------------------------------------------------------------------

LINE_ITEMS = "transaction_data.line_items"


@pytest.mark.parametrize("document", [refund(line_items=None), refund() | {
    "transaction_data": {"transaction_id": "FACT-00123", "refund_id": "NC-00045", "line_items": None}}])
def test_a_refund_without_line_items_returns_every_coded_product_of_the_sale(document):
    release = parse_event(document, NOW)
    assert release.kind == Release.KIND_REFUND and list(release.codes) == []


def test_only_the_code_is_needed_and_carried():
    release = parse_event(items({"autentikapp_code": " " + CODE + " "}, {"autentikapp_code": "X:1.b_2"}), NOW)
    assert list(release.codes) == [CODE, "X:1.b_2"]


def test_a_code_named_twice_counts_once_in_the_order_first_sent():
    release = parse_event(items({"autentikapp_code": OTHER_CODE}, {"autentikapp_code": CODE},
                                {"autentikapp_code": OTHER_CODE, "quantity": 1}), NOW)
    assert list(release.codes) == [OTHER_CODE, CODE]


@pytest.mark.parametrize("value, message", [
    ({"x": 1}, f"{LINE_ITEMS} must be a list"),
    ("a1b2", f"{LINE_ITEMS} must be a list"),
    ([], (f"{LINE_ITEMS} is empty: list the returned products by autentikapp_code, or leave line_items out when "
          "every product of the sale came back")),
    ([{"autentikapp_code": CODE}] * (MAX_LINE_ITEMS + 1), f"{LINE_ITEMS} has 501 items (max 500)"),
])
def test_line_items_is_a_non_empty_list_of_at_most_500(value, message):
    assert errors_of(refund(line_items=value)) == {LINE_ITEMS: message}


def test_500_items_are_fine():
    codes = [f"CODE-{index}" for index in range(MAX_LINE_ITEMS)]
    assert list(parse_event(items(*({"autentikapp_code": c} for c in codes)), NOW).codes) == codes


CODE_RULE = "must be 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"


@pytest.mark.parametrize("entry, field, message", [
    ("x", "", "must be an object"),
    ([CODE], "", "must be an object"),
    ({}, ".autentikapp_code", "is required"),
    ({"autentikapp_code": None, "product_sku": "BOLSO"}, ".autentikapp_code", "is required"),
    ({"autentikapp_code": "  "}, ".autentikapp_code", "is required"),
    ({"autentikapp_code": 123}, ".autentikapp_code", "must be a string"),
    ({"autentikapp_code": "has space"}, ".autentikapp_code", CODE_RULE),
    ({"autentikapp_code": "-leading"}, ".autentikapp_code", CODE_RULE),
    ({"autentikapp_code": "ü-code"}, ".autentikapp_code", CODE_RULE),
    ({"autentikapp_code": "x" * 129}, ".autentikapp_code", CODE_RULE),
    ({"autentikapp_code": CODE, "product_sku": "x" * 129}, ".product_sku", "is too long (max 128 characters)"),
    ({"autentikapp_code": CODE, "product_sku": 7}, ".product_sku", "must be a string"),
    ({"autentikapp_code": CODE, "product_name": "x" * 257}, ".product_name", "is too long (max 256 characters)"),
    ({"autentikapp_code": CODE, "product_name": "a\x00b"}, ".product_name", "must not contain control characters"),
    ({"autentikapp_code": CODE, "quantity": 0}, ".quantity", "must be between 1 and 1,000,000"),
    ({"autentikapp_code": CODE, "quantity": 1_000_001}, ".quantity", "must be between 1 and 1,000,000"),
    ({"autentikapp_code": CODE, "quantity": 1.5}, ".quantity", "must be an integer"),
    ({"autentikapp_code": CODE, "quantity": "1"}, ".quantity", "must be an integer"),
    ({"autentikapp_code": CODE, "quantity": True}, ".quantity", "must be an integer"),
    ({"autentikapp_code": CODE, "unit_price": -1}, ".unit_price", "must be >= 0"),
    ({"autentikapp_code": CODE, "unit_price": "10"}, ".unit_price", "must be a number"),
    ({"autentikapp_code": CODE, "unit_price": 10 ** 18}, ".unit_price", "is too large (max 18 integer digits)"),
])
def test_a_returned_product_needs_a_code_and_its_other_fields_are_checked_like_a_sales(entry, field, message):
    document = items({"autentikapp_code": OTHER_CODE}, json_body.loads(json.dumps(entry).encode()))
    path = f"{LINE_ITEMS}[1]{field}"
    assert errors_of(document) == {path: f"{path} {message}"}


def test_the_other_fields_of_a_returned_product_are_optional_and_not_carried():
    plain = parse_event(items({"autentikapp_code": CODE}), NOW)
    full = parse_event(items({"autentikapp_code": CODE, "product_sku": "x" * 128, "product_name": "  Bolso  de cuero ",
                              "quantity": 1_000_000, "unit_price": 0, "product_sku_2": None}), NOW)
    assert full == plain
    assert parse_event(items({"autentikapp_code": CODE, "quantity": None, "unit_price": None,
                              "product_sku": None}), NOW) == plain


def test_every_failing_field_is_reported_at_once():
    document = refund(transaction_id="", refund_id=7, line_items=[{"quantity": 0}, "x", {"autentikapp_code": "a b"}])
    document["event_timestamp"] = "1970-01-01T00:00:00Z"
    document["customer_data"] = "ignored"
    assert errors_of(document) == {
        "event_timestamp": FLOOR,
        "transaction_data.transaction_id": "transaction_data.transaction_id is required",
        "transaction_data.refund_id": "transaction_data.refund_id must be a string",
        f"{LINE_ITEMS}[0].quantity": f"{LINE_ITEMS}[0].quantity must be between 1 and 1,000,000",
        f"{LINE_ITEMS}[0].autentikapp_code": f"{LINE_ITEMS}[0].autentikapp_code is required",
        f"{LINE_ITEMS}[1]": f"{LINE_ITEMS}[1] must be an object",
        f"{LINE_ITEMS}[2].autentikapp_code": f"{LINE_ITEMS}[2].autentikapp_code {CODE_RULE}",
    }


# -- event ids -----------------------------------------------------------------------------------------

def test_release_ids_are_pinned():
    """The id is a contract (it dedupes retries across deploys): changing the derivation is a breaking change."""
    def pinned(*parts: str) -> str:
        data = b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)
        return "evt_" + hashlib.sha256(b"autentikapp.event-id.v1" + data).hexdigest()[:32]

    assert event_id_of("acme", parse_event(REFUNDED, NOW)) == "evt_d152f3e565558c178dd22b8979412d66"
    assert event_id_of("acme", parse_event(VOIDED, NOW)) == "evt_6bc5973ec245ffc80bc7ad958ed10271"
    assert event_id_of("acme", parse_event(REFUNDED, NOW)) == pinned(
        "acme", "transaction.refunded", "FACT-00123", "NC-00045")
    assert event_id_of("acme", parse_event(VOIDED, NOW)) == pinned("acme", "transaction.voided", "FACT-00123")
    assert event_id("acme", "transaction.refunded", "FACT-00123", "NC-00045") == pinned(
        "acme", "transaction.refunded", "FACT-00123", "NC-00045")
    sale = parse_sale(json_body.loads(TRANSACTION_CREATED.read_bytes()), NOW)
    assert event_id_of("acme", sale) == pinned("acme", "transaction.created", "FACT-00123") == event_id(
        "acme", "transaction.created", "FACT-00123")


def test_a_retry_of_a_refund_or_void_has_the_same_id_whatever_its_time_or_products():
    first = event_id_of("acme", parse_event(REFUNDED, NOW))
    restamped = REFUNDED | {"event_timestamp": "2025-09-14T18:00:00Z"}
    assert event_id_of("acme", parse_event(restamped, NOW)) == first
    assert event_id_of("acme", parse_event(refund(line_items=None), NOW)) == first
    assert event_id_of("acme", parse_event(refund(transaction_id=" FACT-00123 "), NOW)) == first
    assert event_id_of("acme", parse_event(VOIDED | {"event_timestamp": "2025-09-13T16:00:00Z"}, NOW)) == (
        event_id_of("acme", parse_event(VOIDED, NOW)))


def test_a_sale_its_refunds_and_its_void_never_share_an_id():
    sale = parse_sale(json_body.loads(TRANSACTION_CREATED.read_bytes()), NOW)
    ids = [
        event_id_of("acme", sale),
        event_id_of("acme", parse_event(REFUNDED, NOW)),
        event_id_of("acme", parse_event(refund(refund_id="NC-00046"), NOW)),
        event_id_of("acme", parse_event(VOIDED, NOW)),
        event_id_of("other", parse_event(REFUNDED, NOW)),
        event_id_of("other", parse_event(VOIDED, NOW)),
        event_id_of("acme", parse_event(refund(transaction_id="FACT-00124"), NOW)),
        # no ambiguity between where one part ends and the next begins
        event_id_of("acme", parse_event(refund(transaction_id="FACT-00123N", refund_id="C-00045"), NOW)),
        event_id_of("acme", parse_event(void(transaction_id="FACT-00123NC-00045"), NOW)),
    ]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"evt_[0-9a-f]{32}", i) for i in ids)


def test_a_release_without_a_kind_has_no_id():
    with pytest.raises(ValueError):
        event_id_of("acme", Release(transaction_id="FACT-00123"))


# -- the content digest --------------------------------------------------------------------------------

def test_release_digests_are_pinned():
    """Compared with a retry's for up to the duplicate window, across deploys: when this changes, bump
    gateway.event_ids.DIGEST_VERSION, or a retry spanning the deploy would be refused with 409."""
    assert content_digest(parse_event(REFUNDED, NOW)) == "v1:357133bc18621286c3b6748f2cb24621"
    assert content_digest(parse_event(VOIDED, NOW)) == "v1:ec4ca7b6116e552636ed8824aa708bb3"
    assert content_digest(parse_event(REFUNDED, NOW)) == "v1:" + hashlib.sha256(
        b"autentikapp.content-digest.v1.release" + Release(
            kind=Release.KIND_REFUND, transaction_id="FACT-00123", refund_id="NC-00045",
            codes=[CODE]).SerializeToString(deterministic=True)).hexdigest()[:32]
    assert content_digest(parse_event(VOIDED, NOW)) == "v1:" + hashlib.sha256(
        b"autentikapp.content-digest.v1.release" + Release(
            kind=Release.KIND_VOID, transaction_id="FACT-00123").SerializeToString(deterministic=True)).hexdigest()[:32]


def test_the_digest_ignores_the_time_the_order_and_repeats_of_codes():
    digest = content_digest(parse_event(items({"autentikapp_code": CODE}, {"autentikapp_code": OTHER_CODE}), NOW))
    assert re.fullmatch(r"v1:[0-9a-f]{32}", digest)
    assert content_digest(parse_event(items({"autentikapp_code": OTHER_CODE}, {"autentikapp_code": CODE},
                                            {"autentikapp_code": CODE}), NOW)) == digest
    restamped = items({"autentikapp_code": CODE}, {"autentikapp_code": OTHER_CODE})
    restamped["event_timestamp"] = "2025-09-14T20:00:00Z"
    assert content_digest(parse_event(restamped, NOW)) == digest
    unsorted = Release(kind=Release.KIND_REFUND, transaction_id="FACT-00123", refund_id="NC-00045",
                       codes=[OTHER_CODE, CODE, OTHER_CODE])
    assert release_digest(unsorted) == content_digest(parse_event(items(
        {"autentikapp_code": CODE}, {"autentikapp_code": OTHER_CODE}), NOW)) == digest
    assert list(unsorted.codes) == [OTHER_CODE, CODE, OTHER_CODE], "the release itself is left as it was"


def test_a_refund_resent_with_other_products_is_a_correction():
    first = content_digest(parse_event(REFUNDED, NOW))
    others = {
        content_digest(parse_event(items({"autentikapp_code": OTHER_CODE}), NOW)),
        content_digest(parse_event(items({"autentikapp_code": CODE}, {"autentikapp_code": OTHER_CODE}), NOW)),
        content_digest(parse_event(refund(line_items=None), NOW)),  # every product instead of one
        content_digest(parse_event(refund(refund_id="NC-00046"), NOW)),
        content_digest(parse_event(VOIDED, NOW)),
    }
    assert first not in others and len(others) == 5
    assert all(is_correction(first, other) for other in others)
    assert not is_correction(first, content_digest(parse_event(REFUNDED | {"event_timestamp": "2025-09-14T20:00:00Z"}, NOW)))


def test_a_release_digest_is_never_a_sale_digest():
    assert content_digest(Release()) != content_digest(events_pb2.Sale())


# -- the bus message -----------------------------------------------------------------------------------

@pytest.mark.parametrize("example", [REFUNDED_JSON, VOIDED_JSON])
def test_build_event_carries_the_release_and_leaves_the_sale_unset(example):
    raw = example.encode()
    release = parse_event(json_body.loads(raw), NOW)
    event = build_event("acme", release, raw, NOW)
    assert event.HasField("release") and not event.HasField("sale")
    assert event.release == release and event.raw_body == raw
    assert event.event_id == event_id_of("acme", release) and event.tenant_id == "acme"
    assert event.schema_version == 1 and event.received_at.ToJsonString() == "2025-09-20T15:00:00Z"
    parsed = events_pb2.WebhookEvent.FromString(event.SerializeToString())
    assert parsed == event and not parsed.HasField("sale")


def test_build_event_of_a_sale_leaves_the_release_unset():
    sale = parse_sale(json_body.loads(TRANSACTION_CREATED.read_bytes()), NOW)
    event = build_event("acme", sale, b"{}", NOW)
    assert event.HasField("sale") and not event.HasField("release") and event.sale == sale
    assert event.event_id == event_id("acme", "transaction.created", "FACT-00123")


# -- property: what the gateway accepts reaches the bus intact -----------------------------------------

IDENTIFIER_CHARS = st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"))
PADDING = st.sampled_from(["", " ", "\t ", "  "])
CODES = st.from_regex(re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"), fullmatch=True)
OFFSETS = st.integers(-12 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
MOMENTS = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2025, 9, 12), timezones=OFFSETS)


def identifiers(cap: int) -> st.SearchStrategy[str]:
    """A valid identifier: 1..cap characters, no control characters, no surrounding whitespace."""
    return st.text(IDENTIFIER_CHARS, min_size=1, max_size=cap).filter(lambda text: text.strip() == text)


def padded(value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The value as a sender may send it, with whitespace around it."""
    return st.tuples(PADDING, value, PADDING).map("".join)


@st.composite
def releases(draw) -> tuple[dict, dict]:
    """(a release body the gateway accepts, what its Release must hold)."""
    kind = draw(st.sampled_from(["transaction.refunded", "transaction.voided"]))
    moment = draw(MOMENTS)
    transaction_id = draw(identifiers(MAX_TRANSACTION_ID))
    transaction = {"transaction_id": draw(padded(st.just(transaction_id)))}
    expected = {"kind": kind, "moment": moment, "transaction_id": transaction_id, "refund_id": "", "codes": []}
    if kind == "transaction.refunded":
        expected["refund_id"] = draw(identifiers(MAX_REFUND_ID))
        transaction["refund_id"] = draw(padded(st.just(expected["refund_id"])))
        if draw(st.booleans()):
            pool = draw(st.lists(CODES, min_size=1, max_size=8, unique=True))
            sent = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=12))
            transaction["line_items"] = [
                {"autentikapp_code": draw(padded(st.just(code))),
                 **draw(st.fixed_dictionaries({}, optional={
                     "product_sku": st.text(string.ascii_letters, max_size=128),
                     "quantity": st.integers(1, 1_000_000), "unit_price": st.integers(0, 10 ** 12)}))}
                for code in sent]
            expected["codes"] = list(dict.fromkeys(sent))
    elif draw(st.booleans()):
        transaction["refund_id"] = "not read in a void"
    document = {"event_type": kind, "event_timestamp": moment.isoformat(), "transaction_data": transaction}
    if draw(st.booleans()):
        document["customer_data"] = draw(st.sampled_from([{}, "x", {"email": "not-an-address"}]))
    return document, expected


@settings(max_examples=200, derandomize=True, deadline=None)
@given(releases(), st.sampled_from(["acme", "brand_2"]))
def test_an_accepted_release_reaches_the_bus_intact(case, tenant_id):
    document, expected = case
    raw = json.dumps(document, ensure_ascii=False).encode()
    release = parse_event(json_body.loads(raw), NOW)
    event = build_event(tenant_id, release, raw, NOW)
    back = events_pb2.WebhookEvent.FromString(event.SerializeToString())
    assert back.release == release and not back.HasField("sale") and back.raw_body == raw
    kind = Release.KIND_REFUND if expected["kind"] == "transaction.refunded" else Release.KIND_VOID
    assert back.release.kind == kind
    assert back.release.event_timestamp.ToDatetime(tzinfo=timezone.utc) == expected["moment"].astimezone(timezone.utc)
    assert (back.release.transaction_id, back.release.refund_id, list(back.release.codes)) == (
        expected["transaction_id"], expected["refund_id"], expected["codes"])
    qualifiers = (expected["refund_id"],) if kind == Release.KIND_REFUND else ()
    assert back.event_id == event_id(tenant_id, expected["kind"], expected["transaction_id"], *qualifiers)
    assert content_digest(back.release) == content_digest(release)
