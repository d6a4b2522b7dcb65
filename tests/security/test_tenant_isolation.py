"""Tenant isolation, over the real system: one tenant can never act for, see, or touch another.

Tenants alpha (A) and beta (B). Both have a code called SAME-CODE, B has B-CODE-1 and B-CODE-2, and
both sell to a buyer with the same e-mail, in a sale with the same transaction id: the two tenants'
rows must stay apart anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import grpc
import pytest
from security_support import stream_messages
from system_support import System, sign, wait_for

from autentikapp.v1 import customer_pb2, identifier_pb2
from common import bus

A, B = "alpha", "beta"
SHARED_EMAIL = "shared.buyer@correo-tienda.co"
A_CODES = ["A-CODE-1", "A-CODE-2", "SAME-CODE"]
B_CODES = ["B-CODE-1", "B-CODE-2", "SAME-CODE"]


def sale(transaction_id: str, customer: dict, codes: list[str]) -> bytes:
    """A sale of `codes` to `customer`."""
    return json.dumps({
        "event_type": "transaction.created",
        "event_timestamp": "2025-09-13T14:30:00Z",
        "customer_data": customer,
        "transaction_data": {"transaction_id": transaction_id, "line_items": [
            {"product_sku": f"SKU-{code}", "quantity": 1, "unit_price": 10, "autentikapp_code": code}
            for code in codes]},
    }).encode()


@dataclass
class World:
    """Both tenants after their sales, and what a test needs to check them."""

    sut: System
    secrets: dict[str, str]
    events: dict[str, str]  # "a1", "a2", "b1" -> event id
    b_identifiers_before_b_sold: list

    def customers(self):
        return self.sut.stub("customer_service")

    def identifiers(self):
        return self.sut.stub("identifier_service")

    def find(self, tenant: str, **key) -> customer_pb2.Customer:
        return self.customers().FindCustomer(customer_pb2.FindCustomerRequest(tenant_id=tenant, **key)).customer

    def list_identifiers(self, tenant: str, **filters) -> list:
        return list(self.identifiers().ListIdentifiers(identifier_pb2.ListIdentifiersRequest(
            tenant_id=tenant, page_size=1000, **filters)).identifiers)

    def outcome(self, event_id: str) -> dict:
        return wait_for(lambda: self.sut.cli("events", "show", event_id, check=False), what=f"outcome of {event_id}")


def rpc_error(call) -> grpc.StatusCode:
    """The status code a call fails with (fails the test if it succeeds)."""
    with pytest.raises(grpc.RpcError) as failure:
        call()
    return failure.value.code()


@pytest.fixture(scope="module")
def world(module_system) -> World:
    """A sells to the shared buyer (same transaction id B will use) naming B's codes too, then to a second
    buyer; B then sells to a buyer with the same e-mail. Every sale processed before the tests look."""
    sut = module_system
    secrets = {t: sut.cli("tenants", "create", "--name", f"{t} brand", "--id", t)["secret"] for t in (A, B)}
    sut.cli("identifiers", "register", "--tenant", A, *A_CODES)
    sut.cli("identifiers", "register", "--tenant", B, *B_CODES)
    events: dict[str, str] = {}

    def send(name: str, tenant: str, body: bytes) -> None:
        status, _, answer = sut.send(tenant, secrets[tenant], body)
        assert status == 202, answer
        assert answer["duplicate"] is False, f"{name}: another tenant's sale is not a duplicate"
        events[name] = answer["event_id"]

    send("a1", A, sale("T-1", {"email": SHARED_EMAIL, "national_id": "1020457896", "first_name": "Ana"},
                       ["A-CODE-1", "SAME-CODE", "B-CODE-1", "B-CODE-2"]))
    send("a2", A, sale("T-2", {"email": "second.buyer@correo-tienda.co"}, ["A-CODE-2"]))
    world = World(sut, secrets, events, [])
    for name in ("a1", "a2"):
        world.outcome(events[name])
    world.b_identifiers_before_b_sold = world.list_identifiers(B)
    send("b1", B, sale("T-1", {"email": SHARED_EMAIL, "national_id": "52341987", "first_name": "Bea"},
                       ["B-CODE-2", "SAME-CODE"]))
    world.outcome(events["b1"])
    return world


def test_a_tenants_secret_never_acts_for_another_tenant(world):
    sut = world.sut
    body = sale("T-FORGED", {"email": "forged@correo-tienda.co"}, ["B-CODE-1"])
    before = stream_messages(sut.nats.url)
    answers = {
        "A's secret on B's endpoint": sut.send(B, world.secrets[A], body),
        "B's secret on A's endpoint": sut.send(A, world.secrets[B], body),
        "A's secret on an unknown tenant": sut.send("gamma", world.secrets[A], body),
        "A's signature sent to B": sut.post(B, body, {"Content-Type": "application/json",
                                                      "X-Autentikapp-Signature": sign(world.secrets[A], body)}),
    }
    for what, (status, headers, problem) in answers.items():
        assert status == 401, what
        assert headers["content-type"].startswith("application/problem+json") and problem["code"] == "invalid-signature"
    assert stream_messages(sut.nats.url) == before, "nothing was published"
    assert rpc_error(lambda: world.find(B, email="forged@correo-tienda.co")) == grpc.StatusCode.NOT_FOUND


def test_a_sale_naming_the_other_tenants_codes_finds_them_unknown_and_touches_nothing_of_it(world):
    outcome = world.outcome(world.events["a1"])
    assert outcome["tenant_id"] == A
    assert [(item["code"], item["outcome"]) for item in outcome["line_items"]] == [
        ("A-CODE-1", "assigned"), ("SAME-CODE", "assigned"), ("B-CODE-1", "unknown_code"), ("B-CODE-2", "unknown_code")]
    before = {i.code: i for i in world.b_identifiers_before_b_sold}
    assert sorted(before) == sorted(B_CODES)
    assert all(not i.customer_id and not i.event_id for i in before.values()), "A's sale linked none of B's codes"
    b_code_1 = world.identifiers().GetIdentifier(identifier_pb2.GetIdentifierRequest(tenant_id=B, code="B-CODE-1"))
    assert b_code_1.identifier == before["B-CODE-1"], "still untouched after everything"
    a_same = world.identifiers().GetIdentifier(identifier_pb2.GetIdentifierRequest(tenant_id=A, code="SAME-CODE"))
    b_same = world.identifiers().GetIdentifier(identifier_pb2.GetIdentifierRequest(tenant_id=B, code="SAME-CODE"))
    assert a_same.identifier.event_id == world.events["a1"] and b_same.identifier.event_id == world.events["b1"]
    assert a_same.identifier.customer_id != b_same.identifier.customer_id


def test_the_same_buyer_and_transaction_in_two_tenants_are_two_customers_and_two_events(world):
    a_buyer, b_buyer = world.find(A, email=SHARED_EMAIL), world.find(B, email=SHARED_EMAIL)
    assert (a_buyer.tenant_id, a_buyer.national_id, a_buyer.first_name) == (A, "1020457896", "Ana")
    assert (b_buyer.tenant_id, b_buyer.national_id, b_buyer.first_name) == (B, "52341987", "Bea")
    assert a_buyer.id != b_buyer.id
    assert world.events["a1"] != world.events["b1"], "event ids are per tenant: B's T-1 is not A's T-1"
    assert rpc_error(lambda: world.find(B, email="second.buyer@correo-tienda.co")) == grpc.StatusCode.NOT_FOUND


def test_reads_with_the_other_tenants_id_never_return_its_rows(world):
    customers, identifiers = world.customers(), world.identifiers()
    a_buyer = world.find(A, email=SHARED_EMAIL)
    a_second = world.find(A, email="second.buyer@correo-tienda.co")
    for customer in (a_buyer, a_second):
        assert rpc_error(lambda: customers.GetCustomer(customer_pb2.GetCustomerRequest(
            tenant_id=B, customer_id=customer.id))) == grpc.StatusCode.NOT_FOUND
    assert rpc_error(lambda: world.find(B, national_id="1020457896")) == grpc.StatusCode.NOT_FOUND
    b_customers = list(customers.ListCustomers(customer_pb2.ListCustomersRequest(
        tenant_id=B, page_size=1000)).customers)
    assert [c.tenant_id for c in b_customers] == [B]
    assert {a_buyer.id, a_second.id}.isdisjoint(c.id for c in b_customers)

    for code in ("A-CODE-1", "A-CODE-2"):
        assert rpc_error(lambda: identifiers.GetIdentifier(identifier_pb2.GetIdentifierRequest(
            tenant_id=B, code=code))) == grpc.StatusCode.NOT_FOUND
    assert sorted(i.code for i in world.list_identifiers(B)) == sorted(B_CODES)
    assert all(i.tenant_id == B for i in world.list_identifiers(B))
    assert world.list_identifiers(B, customer_id=a_buyer.id) == [], "A's buyer owns nothing in B"
    assert sorted(i.code for i in world.list_identifiers(A, customer_id=a_buyer.id)) == ["A-CODE-1", "SAME-CODE"]


def test_a_page_token_minted_for_one_tenant_is_refused_for_another(world):
    customers, identifiers = world.customers(), world.identifiers()
    first = customers.ListCustomers(customer_pb2.ListCustomersRequest(tenant_id=A, page_size=1))
    assert first.next_page_token, "A has two customers: a second page exists"
    assert rpc_error(lambda: customers.ListCustomers(customer_pb2.ListCustomersRequest(
        tenant_id=B, page_size=1, page_token=first.next_page_token))) == grpc.StatusCode.INVALID_ARGUMENT
    page = identifiers.ListIdentifiers(identifier_pb2.ListIdentifiersRequest(tenant_id=A, page_size=1))
    assert page.next_page_token
    assert rpc_error(lambda: identifiers.ListIdentifiers(identifier_pb2.ListIdentifiersRequest(
        tenant_id=B, page_size=1, page_token=page.next_page_token))) == grpc.StatusCode.INVALID_ARGUMENT
    a_buyer = world.find(A, email=SHARED_EMAIL)
    filtered = identifiers.ListIdentifiers(identifier_pb2.ListIdentifiersRequest(
        tenant_id=A, customer_id=a_buyer.id, page_size=1))
    assert filtered.next_page_token
    b_buyer = world.find(B, email=SHARED_EMAIL)
    assert rpc_error(lambda: identifiers.ListIdentifiers(identifier_pb2.ListIdentifiersRequest(
        tenant_id=B, customer_id=b_buyer.id, page_size=1, page_token=filtered.next_page_token))) == \
        grpc.StatusCode.INVALID_ARGUMENT


def test_an_events_outcome_names_only_its_own_tenant(world):
    b_buyer = world.find(B, email=SHARED_EMAIL)
    a_ids = {world.find(A, email=SHARED_EMAIL).id, world.find(A, email="second.buyer@correo-tienda.co").id}
    for name, tenant, other, foreign_ids in (("a1", A, B, {b_buyer.id}), ("a2", A, B, {b_buyer.id}),
                                             ("b1", B, A, a_ids)):
        outcome = world.outcome(world.events[name])
        assert outcome["event_id"] == world.events[name] and outcome["tenant_id"] == tenant
        assert outcome["status"] == "processed"
        text = json.dumps(outcome)
        assert f'"{other}"' not in text, f"{name}'s outcome names {other}"
        assert not any(customer_id in text for customer_id in foreign_ids), f"{name}'s outcome shows a foreign customer"
    b1 = world.outcome(world.events["b1"])
    assert b1["customer_id"] == b_buyer.id
    assert [(i["code"], i["outcome"]) for i in b1["line_items"]] == [
        ("B-CODE-2", "assigned"), ("SAME-CODE", "assigned")]
    assert stream_messages(world.sut.nats.url, bus.DEAD_LETTER_STREAM) == 0
