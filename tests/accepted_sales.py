"""A hypothesis strategy for sales the gateway accepts, pushed to every cap and odd corner a real
point-of-sale can reach (the longest product names, transaction ids with inner spaces, codes of the
longest form, national ids with separators, phones as typed, names in any script, dates near the floor
and near now), and the path from such a sale to the services' requests, as the processor builds them.

Shared by tests/unit/test_accepted_sales_are_processable.py (in-process, many examples) and
tests/integration/test_accepted_sales_reach_the_services.py (through the real services)."""

from __future__ import annotations

import json
import string
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from autentikapp.v1 import events_pb2
from common import limits
from gateway import payload
from processor import clients

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Free text up to a cap: any script, no control characters or surrogates, with runs of spaces
    (collapsed by normalising, so a text at the cap with doubled spaces still fits)."""
    return st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=min_size, max_size=max_size)


def at_cap(cap: int) -> st.SearchStrategy[str]:
    """Texts exactly at the cap, or just under it, in one or several scripts."""
    return st.sampled_from(["N", "ñ", "名", "ü", "x "]).flatmap(
        lambda unit: st.integers(max(1, cap - 3), cap).map(lambda n: (unit * cap)[:n].strip() or "N"))


national_ids = st.one_of(
    st.from_regex(r"\A[0-9]{6,12}\Z"),
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{3}){2}-[0-9Kk]\Z"),  # a Chilean RUT as typed
    st.from_regex(r"\A[A-Z]{4}[0-9]{6}[A-Z0-9]{3}\Z"),  # a Mexican RFC
    st.just("A" * limits.MAX_NATIONAL_ID),
    st.just("1" + "-2" * 31),  # separators are dropped before the cap is measured
)
emails = st.one_of(
    st.from_regex(r"\A[a-z0-9]{1,20}(\.[a-z0-9]{1,10})?@[a-z]{2,12}\.(com|co|com\.co|net|org)\Z"),
    st.just("Cliente@Email.COM"),
    st.just("a" * 64 + "@" + ("b" * 60 + ".") * 3 + "co"),
)
phones = st.sampled_from(["+573001234567", "+57 300 123 4567", "(+57) 300-123-4567", "0057 300 123 4567",
                          "+52 55 1234 5678", "+56 9 6123 4567", "+51 912 345 678", "+54 9 11 2345-6789",
                          "+593 99 123 4567", "+34 600 123 456"])
codes = st.one_of(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,40}\Z"),
                  st.just("C" * limits.MAX_CODE), st.uuids().map(str))
moments = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2026, 5, 31)),
    st.just(datetime(2000, 1, 1, 0, 0, 0)),  # the floor itself, in UTC
    st.integers(0, 23 * 60).map(lambda minutes: (NOW + timedelta(minutes=minutes)).replace(tzinfo=None)),
)


@st.composite
def line_items(draw) -> dict:
    """One product, with or without a code."""
    item = {"product_sku": draw(st.one_of(text(limits.MAX_SKU), at_cap(limits.MAX_SKU))),
            "product_name": draw(st.one_of(text(limits.MAX_PRODUCT_NAME), at_cap(limits.MAX_PRODUCT_NAME))),
            "quantity": draw(st.integers(1, limits.MAX_QUANTITY))}
    if draw(st.booleans()):
        item["autentikapp_code"] = draw(codes)
    return item


@st.composite
def accepted_documents(draw) -> dict:
    """A sale document built only from values the payload rules accept."""
    customer = {}
    for name, values in (("national_id", national_ids), ("email", emails), ("phone_number", phones)):
        if draw(st.booleans()):
            customer[name] = draw(values)
    if not customer:
        customer["email"] = draw(emails)
    for name in ("first_name", "last_name"):
        if draw(st.booleans()):
            customer[name] = draw(st.one_of(text(limits.MAX_NAME), at_cap(limits.MAX_NAME)))
    if draw(st.booleans()):
        customer["whatsapp_number"] = draw(phones)
    transaction_id = draw(st.one_of(
        text(limits.MAX_TRANSACTION_ID, 1).filter(str.strip),
        st.just("FV  " + "0" * (limits.MAX_TRANSACTION_ID - 4)),  # inner spaces at the cap
    ))
    return {
        "event_type": "transaction.created",
        "event_timestamp": draw(moments).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "customer_data": customer,
        "transaction_data": {
            "transaction_id": transaction_id,
            "currency": draw(st.text(string.ascii_letters, min_size=3, max_size=3)),
            "line_items": draw(st.lists(line_items(), min_size=1, max_size=8)),
        },
    }


def accepted_event(document: dict, tenant_id: str = "acme") -> events_pb2.WebhookEvent:
    """The WebhookEvent the gateway publishes for a document, as the processor reads it off the bus."""
    raw = json.dumps(document).encode()
    sale = payload.parse_sale(json.loads(raw), NOW)  # raises PayloadInvalid if the gateway would refuse it
    event = payload.build_event(tenant_id, sale, raw, NOW)
    return events_pb2.WebhookEvent.FromString(event.SerializeToString())


def requests_for(event: events_pb2.WebhookEvent, customer_id: str):
    """The processor's requests for the event: the buyer's upsert and one assignment per coded item."""
    coded = [item for item in event.sale.line_items if item.autentikapp_code]
    return clients.upsert_request(event), clients.assign_requests(event, coded, customer_id)
