"""The processor in-process against real NATS, real gRPC services and real Postgres: every line item
gets exactly its outcome, the link carries its provenance, and a repeated event changes nothing."""

from __future__ import annotations

import logging

import pytest
from processor_support import (
    SOLD_AT,
    TENANT,
    InProcessProcessor,
    as_message,
    consumer_idle,
    dead_letters,
    outcome_rows,
    publish,
    webhook_event,
)
from system_support import wait_for

from autentikapp.v1 import (
    customer_pb2,
    customer_pb2_grpc,
    identifier_pb2,
    identifier_pb2_grpc,
)
from common.timestamps import to_timestamp


@pytest.fixture
def customers(customer_service):
    return customer_pb2_grpc.CustomerServiceStub(customer_service.channel)


@pytest.fixture
def identifiers(identifier_service):
    return identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)


def upsert(customers, **data) -> str:
    """A customer of the tenant, created or found through the service; returns its id."""
    request = customer_pb2.UpsertCustomerRequest(tenant_id=TENANT, data=customer_pb2.CustomerData(**data))
    return customers.UpsertCustomer(request, timeout=10).customer.id


def assign(identifiers, code: str, customer_id: str, event_id: str) -> None:
    """Link a code directly, as an earlier sale would have."""
    identifiers.AssignIdentifier(identifier_pb2.AssignIdentifierRequest(
        tenant_id=TENANT, code=code, customer_id=customer_id,
        provenance=identifier_pb2.Provenance(transaction_id="EARLIER", event_id=event_id, sold_at=to_timestamp(SOLD_AT)),
    ), timeout=10)


def get_identifier(identifiers, code: str) -> identifier_pb2.Identifier:
    return identifiers.GetIdentifier(identifier_pb2.GetIdentifierRequest(tenant_id=TENANT, code=code), timeout=10).identifier


def line_items(row) -> list[tuple]:
    return [(i["index"], i["code"], i["product_sku"], i["outcome"]) for i in row["line_items"]]


def test_every_line_item_gets_exactly_its_outcome_and_the_link_its_provenance(
        env, customers, identifiers, processor_db, nats_server, caplog):
    caplog.set_level(logging.INFO)
    identifiers.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(
        tenant_id=TENANT, codes=["FREE-1", "OWNED-BY-OTHER", "MINE-ALREADY"]), timeout=10)
    other = upsert(customers, email="other@b.co")
    assign(identifiers, "OWNED-BY-OTHER", other, "evt-earlier-1")
    buyer = upsert(customers, email="ana@b.co")
    assign(identifiers, "MINE-ALREADY", buyer, "evt-earlier-2")

    event = webhook_event(
        [("PLAIN", ""), ("S1", "FREE-1"), ("S2", "NO-SUCH-CODE"), ("S3", "OWNED-BY-OTHER"), ("S4", "MINE-ALREADY"),
         ("S5", "")],
        customer={"email": "ana@b.co", "national_id": "7.984.512-3", "phone_number": "+573001234567",
                  "first_name": "Ana"},
        transaction_id="FACT-00123", product_name="Bolso de Cuero",
    )
    publish(nats_server.url, event)
    with InProcessProcessor(env):
        row = wait_for(lambda: outcome_rows(processor_db).get(event.event_id), what="the outcome")
        wait_for(lambda: consumer_idle(nats_server.url, 1), what="the message acked")

    assert line_items(row) == [
        (0, "", "PLAIN", "skipped"),
        (1, "FREE-1", "S1", "assigned"),
        (2, "NO-SUCH-CODE", "S2", "unknown_code"),
        (3, "OWNED-BY-OTHER", "S3", "conflict"),
        (4, "MINE-ALREADY", "S4", "already_assigned"),
        (5, "", "S5", "skipped"),
    ]
    assert (row["status"], str(row["customer_id"]), row["customer_created"]) == ("processed", buyer, False)
    assert (row["tenant_id"], row["clashes"], row["reason"], row["deliveries"]) == (TENANT, [], None, 1)

    linked = get_identifier(identifiers, "FREE-1")
    assert (linked.customer_id, linked.transaction_id, linked.product_sku, linked.product_name, linked.event_id) == (
        buyer, "FACT-00123", "S1", "Bolso de Cuero", event.event_id)
    assert linked.sold_at.ToDatetime().replace(tzinfo=SOLD_AT.tzinfo) == SOLD_AT
    assert get_identifier(identifiers, "OWNED-BY-OTHER").customer_id == other, "a conflict never moves a link"
    assert get_identifier(identifiers, "MINE-ALREADY").event_id == "evt-earlier-2", "the first sale's provenance stays"
    assert dead_letters(nats_server.url) == []

    processed = [r for r in caplog.records if r.getMessage().startswith(f"event {event.event_id} processed")]
    assert len(processed) == 1
    assert processed[0].fields["outcomes"] == {"assigned": 1, "already_assigned": 1, "conflict": 1,
                                               "unknown_code": 1, "skipped": 2}
    for personal in ("ana@b.co", "79845123", "573001234567", "Ana"):
        assert personal not in caplog.text


def test_a_clash_is_recorded_and_nothing_is_merged(env, customers, processor_db, nats_server):
    other = upsert(customers, national_id="1020457896", email="shared@b.co")
    event = webhook_event(customer={"national_id": "52341987", "email": "shared@b.co"})
    publish(nats_server.url, event)
    with InProcessProcessor(env):
        row = wait_for(lambda: outcome_rows(processor_db).get(event.event_id), what="the outcome")
    assert row["customer_created"] is True and str(row["customer_id"]) != other
    assert row["clashes"] == [{"field": "email", "other_customer_id": other}]


def test_the_same_event_twice_records_the_same_outcomes_and_one_customer(
        env, customers, identifiers, processor_db, nats_server):
    identifiers.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(
        tenant_id=TENANT, codes=["C-1", "C-2"]), timeout=10)
    event = webhook_event([("S1", "C-1"), ("S2", "C-2")], customer={"email": "twice@b.co"})
    # A crash after this event's first delivery linked C-2 but before the outcome was recorded.
    buyer = upsert(customers, email="twice@b.co")
    assign(identifiers, "C-2", buyer, event.event_id)

    with InProcessProcessor(env):
        publish(nats_server.url, event)
        first = wait_for(lambda: outcome_rows(processor_db).get(event.event_id), what="the first outcome")
        wait_for(lambda: consumer_idle(nats_server.url, 1), what="the first delivery acked")
        # The same event under another Nats-Msg-Id: a sender's retry after the duplicate window.
        publish(nats_server.url, as_message(event, msg_id=f"{event.event_id}-after-the-window"))
        wait_for(lambda: consumer_idle(nats_server.url, 2), what="the second delivery acked")
    second = outcome_rows(processor_db)[event.event_id]

    expected = [(0, "C-1", "S1", "assigned"), (1, "C-2", "S2", "assigned")]
    assert line_items(first) == line_items(second) == expected
    assert str(first["customer_id"]) == str(second["customer_id"]) == buyer
    assert second["first_processed_at"] == first["first_processed_at"]
    assert second["processed_at"] > first["processed_at"]
    listed = customers.ListCustomers(customer_pb2.ListCustomersRequest(tenant_id=TENANT), timeout=10).customers
    assert [c.id for c in listed] == [buyer]
    assert get_identifier(identifiers, "C-1").event_id == event.event_id

