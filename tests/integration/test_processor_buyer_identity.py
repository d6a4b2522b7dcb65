"""The processor in-process against real NATS, real gRPC services and real Postgres, with the sales real
points of sale send: an anonymous buyer's codes are linked to nobody (`unidentified_buyer`), the values
set aside are recorded in the event's outcome, and the tenant's rules carried on the event apply."""

from __future__ import annotations

import pytest
from processor_support import (
    TENANT,
    InProcessProcessor,
    consumer_idle,
    dead_letters,
    outcome_rows,
    publish,
    webhook_event,
)
from system_support import wait_for

from autentikapp.v1 import customer_pb2, identifier_pb2, identifier_pb2_grpc


@pytest.fixture
def identifiers(identifier_service):
    stub = identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)
    stub.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(
        tenant_id=TENANT, codes=[f"CODE-{n}" for n in range(1, 7)]), timeout=10)
    return stub


def owner(identifiers, code: str) -> str:
    request = identifier_pb2.GetIdentifierRequest(tenant_id=TENANT, code=code)
    return identifiers.GetIdentifier(request, timeout=10).identifier.customer_id


def process(env, nats_url: str, processor_db: str, *events) -> dict:
    publish(nats_url, *events)
    with InProcessProcessor(env):
        wait_for(lambda: all(e.event_id in outcome_rows(processor_db) for e in events), what="every outcome")
        wait_for(lambda: consumer_idle(nats_url, len(events)), what="every message acked")
    return outcome_rows(processor_db)


def test_anonymous_buyers_codes_are_linked_to_nobody_and_a_real_buyer_keeps_hers(
        env, identifiers, processor_db, nats_server):
    strangers = [webhook_event([("S", f"CODE-{n}"), ("PLAIN", "")], transaction_id=f"POS-{n}",
                               customer={"national_id": "222222222222", "email": "noemail@gmail.com",
                                         "first_name": name})
                 for n, name in ((1, "Ana"), (2, "Luis"), (3, "Marta"))]
    real = [webhook_event([("S", f"CODE-{n}")], transaction_id=f"POS-{n}",
                          customer={"national_id": "222222222222", "email": "ana.gomez@correo-tienda.co"})
            for n in (4, 5)]
    rows = process(env, nats_server.url, processor_db, *strangers, *real)

    for event in strangers:
        row = rows[event.event_id]
        assert (row["status"], row["customer_id"], row["customer_created"]) == ("processed", None, False)
        assert [i["outcome"] for i in row["line_items"]] == ["unidentified_buyer", "skipped"]
        assert row["ignored_identity"] == [{"field": "national_id", "reason": "generic_national_id"},
                                           {"field": "email", "reason": "placeholder_email"}]
    assert [owner(identifiers, f"CODE-{n}") for n in (1, 2, 3)] == ["", "", ""], "no stranger owns anything"

    first, second = (rows[e.event_id] for e in real)
    assert first["customer_id"] == second["customer_id"] is not None, "a real buyer sent twice is one customer"
    assert [i["outcome"] for i in first["line_items"] + second["line_items"]] == ["assigned", "assigned"]
    assert first["ignored_identity"] == [{"field": "national_id", "reason": "generic_national_id"}]
    assert owner(identifiers, "CODE-4") == owner(identifiers, "CODE-5") == str(first["customer_id"])
    assert dead_letters(nats_server.url) == []


def test_the_tenants_rules_on_the_event_apply(env, identifiers, processor_db, nats_server):
    event = webhook_event([("S", "CODE-6")], customer={"phone_number": "601 456 7890", "email": "caja1@tienda.co"})
    event.buyer_rules.CopyFrom(customer_pb2.BuyerIdentityRules(default_country="CO",
                                                               ignored_phone_numbers=["+576014567890"]))
    listed = webhook_event([("S", "CODE-1")], transaction_id="POS-9",
                           customer={"phone_number": "300 123 4567"})
    listed.buyer_rules.CopyFrom(customer_pb2.BuyerIdentityRules(default_country="CO"))
    rows = process(env, nats_server.url, processor_db, event, listed)

    row = rows[event.event_id]
    assert row["ignored_identity"] == [{"field": "phone_number", "reason": "tenant_list"}]
    assert row["customer_id"] is not None and owner(identifiers, "CODE-6") == str(row["customer_id"]), (
        "the e-mail still identifies the buyer")
    assert rows[listed.event_id]["line_items"][0]["outcome"] == "assigned"
