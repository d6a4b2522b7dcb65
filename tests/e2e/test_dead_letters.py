"""Dead letters end to end: events that ran out of deliveries while a service was down are listed by
`autentikapp dlq list` and, once the service is back, `autentikapp dlq replay --all` completes them,
once each."""

from __future__ import annotations

import json

import pytest

from autentikapp.v1 import customer_pb2, identifier_pb2
from system_support import EXAMPLE

CODES = ("DL-1", "DL-2", "DL-3")


@pytest.fixture
def system_env() -> dict[str, str]:
    """Three deliveries per event. The delays add up to more than the processor's longest gRPC reconnect
    backoff (3 s, processor/clients.py), so a replay sent right after the service returns does not run
    out of deliveries while the processor's channel is still waiting to reconnect."""
    return {"BUS_MAX_DELIVER": "3", "PROCESSOR_RETRY_DELAYS": "1,4"}


def sale(transaction_id: str, email: str, code: str) -> bytes:
    """The guide's example with its own transaction, buyer and one coded line item."""
    payload = json.loads(EXAMPLE.read_bytes())
    payload["transaction_data"]["transaction_id"] = transaction_id
    payload["customer_data"] = {"email": email, "first_name": "Ana"}
    payload["transaction_data"]["line_items"] = [
        {"product_sku": "S", "quantity": 1, "unit_price": 1, "autentikapp_code": code}]
    return json.dumps(payload).encode()


def status_of(sut, event_id: str, status: str):
    """The event's recorded outcome once it has `status`."""
    return sut.outcome(event_id, status, timeout=60)


def test_dead_lettered_events_are_replayed_once_the_service_is_back(running_system):
    sut = running_system
    secret = sut.cli("tenants", "create", "--name", "Acme", "--id", "acme")["secret"]
    sut.cli("identifiers", "register", "--tenant", "acme", *CODES)
    sut.stop("identifier_service")

    buyers = {}
    for i, code in enumerate(CODES):
        email = f"buyer{i}@b.co"
        status, _, body = sut.send("acme", secret, sale(f"T-DL{i}", email, code))
        assert status == 202, body
        buyers[body["event_id"]] = (email, code)

    for event_id in buyers:
        dead = status_of(sut, event_id, "dead_lettered")
        assert dead["reason"].startswith("AssignIdentifiers failed: UNAVAILABLE"), dead["reason"]
        assert dead["reason"].endswith("; gave up after 3 deliveries") and dead["deliveries"] == 3
    listed = sut.cli("dlq", "list")
    assert sorted(e["event_id"] for e in listed) == sorted(buyers)
    assert all(e["tenant_id"] == "acme" and e["deliveries"] == 3 and not e["replayed"] for e in listed)

    sut.start("identifier_service")
    replayed = sut.cli("dlq", "replay", "--all")
    assert sorted(r["event_id"] for r in replayed["replayed"]) == sorted(buyers)
    assert replayed["refused"] == []

    customers = sut.stub("customer_service")
    identifiers = sut.stub("identifier_service")
    for event_id, (email, code) in buyers.items():
        done = status_of(sut, event_id, "processed")
        assert [i["outcome"] for i in done["line_items"]] == ["assigned"] and done["reason"] is None
        buyer = customers.FindCustomer(customer_pb2.FindCustomerRequest(tenant_id="acme", email=email)).customer
        linked = identifiers.GetIdentifier(identifier_pb2.GetIdentifierRequest(tenant_id="acme", code=code)).identifier
        assert (linked.customer_id, linked.event_id) == (buyer.id, event_id)
    everyone = customers.ListCustomers(customer_pb2.ListCustomersRequest(tenant_id="acme")).customers
    assert sorted(c.email for c in everyone) == sorted(email for email, _ in buyers.values()), "one per buyer"

    assert sut.cli("dlq", "list") == []
    assert sut.cli("dlq", "replay", "--all") == {"replayed": [], "refused": []}, "nothing left to replay"
