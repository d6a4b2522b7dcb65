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


def test_shuffled_events_of_many_sales_on_two_replicas_end_as_they_would_in_order(
        env, identifier_service, customer_service, processor_db, nats_server):
    """Sales, refunds (of one code, or of the whole sale) and voids of 40 transactions, shuffled and
    consumed by two processor replicas at once: every code ends as the in-order story says (linked to its
    buyer unless its sale was refunded or voided), whatever each replica saw first."""
    import random

    from autentikapp.v1 import customer_pb2, customer_pb2_grpc

    rng = random.Random(20251130)
    codes = {n: (f"TX{n:02d}-A", f"TX{n:02d}-B") for n in range(40)}
    stub = identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)
    stub.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(
        tenant_id=TENANT, codes=[code for pair in codes.values() for code in pair]), timeout=10)
    events, expected_free = [], set()
    for n, (a, b) in codes.items():
        events.append(webhook_event([("S", a), ("S", b)], transaction_id=f"FV-{n}",
                                    customer={"email": f"cliente{n:02d}@clientes.co"}))
        story = rng.choice(["kept", "refund-one", "refund-all", "void", "refund-one-then-void"])
        if story in ("refund-one", "refund-one-then-void"):
            events.append(release_event(f"FV-{n}", a, refund_id=f"NC-{n}"))
            expected_free.add(a)
        if story == "refund-all":
            events.append(release_event(f"FV-{n}", refund_id=f"NC-{n}"))
            expected_free.update((a, b))
        if story in ("void", "refund-one-then-void"):
            events.append(release_event(f"FV-{n}", void=True))
            expected_free.update((a, b))
    assert 0 < len(expected_free) < 80, "the seed gives a mix of kept and released codes"
    rng.shuffle(events)

    publish(nats_server.url, *events)
    with InProcessProcessor(env), InProcessProcessor(env):
        wait_for(lambda: len(outcome_rows(processor_db)) == len(events), timeout=120, what="every outcome")
        wait_for(lambda: consumer_idle(nats_server.url, len(events)), timeout=60, what="every message acked")

    customers = customer_pb2_grpc.CustomerServiceStub(customer_service.channel)
    for n, pair in codes.items():
        buyer = customers.FindCustomer(customer_pb2.FindCustomerRequest(
            tenant_id=TENANT, email=f"cliente{n:02d}@clientes.co"), timeout=10).customer.id
        for code in pair:
            assert owner(stub, code) == ("" if code in expected_free else buyer), f"{code} of FV-{n}"
    assert dead_letters(nats_server.url) == []


def domain_events(nats_url: str) -> list:
    """Every message of the domain-event stream, in order: (subject, Nats-Msg-Id, IdentifierEvent)."""
    import asyncio

    import nats

    from autentikapp.v1 import domain_events_pb2
    from common import bus, work_message

    async def read():
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            last = (await js.stream_info(bus.DOMAIN_STREAM)).state.last_seq
            found = []
            for seq in range(1, last + 1):
                raw = await js.get_msg(bus.DOMAIN_STREAM, seq)
                found.append((raw.subject, raw.headers[work_message.HEADER_MSG_ID],
                              domain_events_pb2.IdentifierEvent.FromString(raw.data)))
            return found
        finally:
            await nc.close()

    return asyncio.run(read())


def test_domain_events_are_published_once_per_effect_and_a_redelivery_adds_none(
        env, identifiers, processor_db, nats_server):
    from autentikapp.v1 import domain_events_pb2
    from processor_support import as_message

    ana = webhook_event([("BAG", "BAG-1"), ("BELT", "BELT-1"), ("PLAIN", "")], transaction_id="FV-1",
                        customer={"email": "ana.gomez@correo-tienda.co"})
    refund = release_event("FV-1", "BAG-1")
    rows = run(env, nats_server.url, processor_db, ana, refund)
    again = as_message(ana, msg_id=f"{ana.event_id}:replay:1")  # the same sale delivered again (a replay)
    with InProcessProcessor(env):
        publish(nats_server.url, again)
        wait_for(lambda: consumer_idle(nats_server.url, 3), what="the replay processed")

    customer = str(rows[ana.event_id]["customer_id"])
    linked, released = domain_events_pb2.IdentifierEvent.KIND_LINKED, domain_events_pb2.IdentifierEvent.KIND_RELEASED
    found = [(subject, msg_id, e.kind, e.code, e.customer_id, e.event_id, e.transaction_id)
             for subject, msg_id, e in domain_events(nats_server.url)]
    assert sorted(found) == sorted([
        (f"domain.identifier.linked.{TENANT}", f"{ana.event_id}:BAG-1:linked", linked, "BAG-1", customer,
         ana.event_id, "FV-1"),
        (f"domain.identifier.linked.{TENANT}", f"{ana.event_id}:BELT-1:linked", linked, "BELT-1", customer,
         ana.event_id, "FV-1"),
        (f"domain.identifier.released.{TENANT}", f"{refund.event_id}:BAG-1:released", released, "BAG-1", customer,
         refund.event_id, "FV-1"),
    ]), "one event per effect; the replayed sale (its BELT-1 link again) added none"
    assert all(e.HasField("at") for _, _, e in domain_events(nats_server.url))
