"""The life of a sale through the processor in-process, against real NATS, real gRPC services and real
Postgres: a refund releases what its sale linked and nothing else, a void before its sale leaves the
sale's codes unlinked, a returned product is sold again to someone else, and the code's history tells
it all."""

from __future__ import annotations

import pytest

from autentikapp.v1 import events_pb2, identifier_pb2, identifier_pb2_grpc
from common.timestamps import to_timestamp
from processor_support import (
    SOLD_AT,
    TENANT,
    InProcessProcessor,
    consumer_idle,
    dead_letters,
    outcome_rows,
    publish,
    webhook_event,
)
from system_support import wait_for


@pytest.fixture
def identifiers(identifier_service):
    stub = identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)
    stub.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(
        tenant_id=TENANT, codes=["BAG-1", "BAG-2", "BELT-1"]), timeout=10)
    return stub


def release_event(transaction_id: str, *codes: str, void: bool = False, refund_id: str = "NC-1"):
    """A refund (of the codes given; none: the whole sale) or a void, as the gateway publishes it."""
    kind = events_pb2.Release.KIND_VOID if void else events_pb2.Release.KIND_REFUND
    return events_pb2.WebhookEvent(
        schema_version=1, event_id=f"evt-{'void' if void else 'refund'}-{transaction_id}-{refund_id}",
        tenant_id=TENANT, raw_body=b"{}",
        release=events_pb2.Release(kind=kind, transaction_id=transaction_id, refund_id="" if void else refund_id,
                                   codes=codes, event_timestamp=to_timestamp(SOLD_AT)))


def run(env, nats_url: str, processor_db: str, *events) -> dict:
    """Process the events in the order given, each once the one before it is recorded."""
    with InProcessProcessor(env):
        for n, event in enumerate(events, start=1):
            publish(nats_url, event)
            wait_for(lambda: event.event_id in outcome_rows(processor_db), what=f"the outcome of {event.event_id}")
            wait_for(lambda: consumer_idle(nats_url, n), what="every message acked")
    return outcome_rows(processor_db)


def owner(identifiers, code: str) -> str:
    request = identifier_pb2.GetIdentifierRequest(tenant_id=TENANT, code=code)
    return identifiers.GetIdentifier(request, timeout=10).identifier.customer_id


def outcomes_of(row) -> list[tuple[str, str]]:
    return [(item["code"], item["outcome"]) for item in row["line_items"]]


def test_refund_of_one_of_two_items_then_resale_to_another_buyer(env, identifiers, processor_db, nats_server):
    ana = webhook_event([("BAG", "BAG-1"), ("BELT", "BELT-1")], transaction_id="FV-1",
                        customer={"email": "ana.gomez@correo-tienda.co"})
    refund = release_event("FV-1", "BAG-1")
    luis = webhook_event([("BAG", "BAG-1")], transaction_id="FV-2", customer={"email": "luis.perez@clientes.co"})
    rows = run(env, nats_server.url, processor_db, ana, refund, luis)

    assert outcomes_of(rows[ana.event_id]) == [("BAG-1", "assigned"), ("BELT-1", "assigned")]
    assert outcomes_of(rows[refund.event_id]) == [("BAG-1", "released")]
    assert rows[refund.event_id]["customer_id"] is None
    assert outcomes_of(rows[luis.event_id]) == [("BAG-1", "assigned")]
    ana_id, luis_id = str(rows[ana.event_id]["customer_id"]), str(rows[luis.event_id]["customer_id"])
    assert owner(identifiers, "BELT-1") == ana_id, "the item not returned stays with its buyer"
    assert owner(identifiers, "BAG-1") == luis_id, "the returned product was sold again"

    history = identifiers.ListIdentifierHistory(
        identifier_pb2.ListIdentifierHistoryRequest(tenant_id=TENANT, code="BAG-1"), timeout=10).entries
    assert [(e.action, e.customer_id, e.transaction_id, e.event_id) for e in history] == [
        (identifier_pb2.HISTORY_ACTION_LINKED, ana_id, "FV-1", ana.event_id),
        (identifier_pb2.HISTORY_ACTION_RELEASED, ana_id, "FV-1", refund.event_id),
        (identifier_pb2.HISTORY_ACTION_LINKED, luis_id, "FV-2", luis.event_id),
    ]
    assert dead_letters(nats_server.url) == []


def test_a_refund_never_steals_a_product_resold_since(env, identifiers, processor_db, nats_server):
    ana = webhook_event([("BAG", "BAG-2")], transaction_id="FV-1", customer={"email": "ana.gomez@correo-tienda.co"})
    first_refund = release_event("FV-1", refund_id="NC-1")
    luis = webhook_event([("BAG", "BAG-2")], transaction_id="FV-2", customer={"email": "luis.perez@clientes.co"})
    late_refund = release_event("FV-1", "BAG-2", refund_id="NC-2")  # a second credit note of the first sale
    rows = run(env, nats_server.url, processor_db, ana, first_refund, luis, late_refund)
    assert outcomes_of(rows[first_refund.event_id]) == [("BAG-2", "released")]
    assert outcomes_of(rows[late_refund.event_id]) == [("BAG-2", "not_held")]
    assert owner(identifiers, "BAG-2") == str(rows[luis.event_id]["customer_id"])


def test_a_void_processed_before_its_sale_leaves_the_sale_unlinked(env, identifiers, processor_db, nats_server):
    sale = webhook_event([("BAG", "BAG-1"), ("PLAIN", "")], transaction_id="FV-9",
                         customer={"email": "ana.gomez@correo-tienda.co"})
    void = release_event("FV-9", void=True)
    rows = run(env, nats_server.url, processor_db, void, sale)
    assert outcomes_of(rows[void.event_id]) == [], "nothing was held through FV-9 yet"
    assert outcomes_of(rows[sale.event_id]) == [("BAG-1", "released"), ("", "skipped")]
    assert owner(identifiers, "BAG-1") == ""
