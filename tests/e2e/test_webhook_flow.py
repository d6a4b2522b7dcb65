"""The integration guide working for real: a signed sale in, the buyer upserted, the codes linked.

The tests that stop nothing share one system (shared_system), each with a tenant of its own; the two that
stop NATS or a service have a system each (running_system)."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor

import nats
from system_support import EXAMPLE, sign, wait_for

from autentikapp.v1 import customer_pb2, identifier_pb2
from common import bus

EXAMPLE_CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"


def new_tenant(sut, tenant_id: str = "acme") -> str:
    """Create a tenant with the CLI; return its secret."""
    created = sut.cli("tenants", "create", "--name", f"{tenant_id} brand", "--id", tenant_id)
    return created["secret"]


def outcome(sut, event_id: str):
    """The processor's recorded outcome of an event, once there is one."""
    return sut.outcome(event_id)


def stream_messages(nats_url: str, tenant_id: str | None = None, stream: str = bus.STREAM) -> int:
    """How many messages a JetStream stream holds: in all, or for one tenant's subject (what the tests that
    share a system count)."""
    subject = bus.subject_for(tenant_id) if tenant_id is not None else None

    async def count():
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info(stream, subjects_filter=subject)
            return info.state.messages if subject is None else (info.state.subjects or {}).get(subject, 0)
        finally:
            await nc.close()

    return asyncio.run(count())


_tenant_numbers = itertools.count(1)


def unique_tenant(prefix: str = "acme") -> str:
    """A tenant id no other test of the module's shared system uses."""
    return f"{prefix}{next(_tenant_numbers)}"


def sale(transaction_id: str, items: list[dict], email: str = "cliente@email.com") -> bytes:
    """The guide's example with another transaction id, buyer e-mail and line items."""
    payload = json.loads(EXAMPLE.read_bytes())
    payload["transaction_data"]["transaction_id"] = transaction_id
    payload["customer_data"] = {"email": email, "first_name": "Ana"}
    payload["transaction_data"]["line_items"] = items
    return json.dumps(payload).encode()


def test_guide_example_verbatim_links_the_product_to_the_buyer(shared_system):
    sut = shared_system
    tenant = unique_tenant()
    secret = new_tenant(sut, tenant)
    sut.cli("identifiers", "register", "--tenant", tenant, EXAMPLE_CODE)

    status, headers, body = sut.send(tenant, secret, EXAMPLE.read_bytes())
    assert status == 202, body
    assert body["status"] == "accepted" and body["duplicate"] is False
    event_id = body["event_id"]

    customers = sut.stub("customer_service")
    found = wait_for(
        lambda: customers.FindCustomer(customer_pb2.FindCustomerRequest(tenant_id=tenant, email="cliente@email.com")),
        what="the customer",
    ).customer
    # The guide's example national id, 123456789, is a run of digits that identifies nobody: set aside
    # (docs/buyer-identity.md), while the e-mail and the phone number identify the buyer.
    assert (found.national_id, found.email, found.phone_number) == ("", "cliente@email.com", "+573001234567")
    assert (found.first_name, found.last_name, found.whatsapp_number) == ("Diego", "López", "+573001234567")

    identifier = wait_for(
        lambda: (i := sut.stub("identifier_service").GetIdentifier(
            identifier_pb2.GetIdentifierRequest(tenant_id=tenant, code=EXAMPLE_CODE)).identifier).customer_id and i,
        what="the identifier link",
    )
    assert identifier.customer_id == found.id
    assert (identifier.transaction_id, identifier.product_sku, identifier.product_name, identifier.event_id) == (
        "FACT-00123", "BOLSO-CUERO-01", "Bolso de Cuero Edición Limitada", event_id)
    assert identifier.sold_at.ToJsonString() == "2025-09-13T14:30:00Z"

    recorded = outcome(sut, event_id)
    assert recorded["status"] == "processed"
    assert [item["outcome"] for item in recorded["line_items"]] == ["assigned"]
    assert recorded["ignored_identity"] == [{"field": "national_id", "reason": "degenerate_value"}]


def test_the_same_webhook_five_times_is_one_event_processed_once(shared_system):
    sut = shared_system
    tenant = unique_tenant()
    secret = new_tenant(sut, tenant)
    sut.cli("identifiers", "register", "--tenant", tenant, EXAMPLE_CODE)
    body = EXAMPLE.read_bytes()

    first = sut.send(tenant, secret, body)
    with ThreadPoolExecutor(4) as pool:
        repeats = list(pool.map(lambda _: sut.send(tenant, secret, body), range(4)))
    answers = [first, *repeats]
    assert [status for status, _, _ in answers] == [202] * 5
    assert len({b["event_id"] for _, _, b in answers}) == 1
    assert first[2]["duplicate"] is False
    assert all(b["duplicate"] is True for _, _, b in repeats)

    recorded = outcome(sut, first[2]["event_id"])
    assert [item["outcome"] for item in recorded["line_items"]] == ["assigned"]
    assert stream_messages(sut.nats.url, tenant) == 1


def test_several_line_items_get_exactly_their_outcomes(shared_system):
    sut = shared_system
    tenant = unique_tenant()
    secret = new_tenant(sut, tenant)
    sut.cli("identifiers", "register", "--tenant", tenant, "FREE-1", "OWNED-BY-OTHER", "MINE-ALREADY")
    # Someone else bought OWNED-BY-OTHER; our buyer bought MINE-ALREADY before.
    for tx, email, code in (("T-1", "other@b.co", "OWNED-BY-OTHER"), ("T-2", "cliente@email.com", "MINE-ALREADY")):
        status, _, body = sut.send(tenant, secret, sale(tx, [{"product_sku": "S", "quantity": 1, "unit_price": 1,
                                                               "autentikapp_code": code}], email))
        assert status == 202, body
        outcome(sut, body["event_id"])

    items = [
        {"product_sku": "PLAIN", "product_name": "No code", "quantity": 2, "unit_price": 10},
        {"product_sku": "S1", "quantity": 1, "unit_price": 5, "autentikapp_code": "FREE-1"},
        {"product_sku": "S2", "quantity": 1, "unit_price": 5, "autentikapp_code": "NO-SUCH-CODE"},
        {"product_sku": "S3", "quantity": 1, "unit_price": 5, "autentikapp_code": "OWNED-BY-OTHER"},
        {"product_sku": "S4", "quantity": 1, "unit_price": 5, "autentikapp_code": "MINE-ALREADY"},
        {"product_sku": "S5", "quantity": 1, "unit_price": 5, "autentikapp_code": ""},
    ]
    status, _, body = sut.send(tenant, secret, sale("T-3", items))
    assert status == 202, body
    recorded = outcome(sut, body["event_id"])
    assert [(i["product_sku"], i["outcome"]) for i in recorded["line_items"]] == [
        ("PLAIN", "skipped"), ("S1", "assigned"), ("S2", "unknown_code"), ("S3", "conflict"),
        ("S4", "already_assigned"), ("S5", "skipped"),
    ]
    owner = sut.stub("identifier_service").GetIdentifier(
        identifier_pb2.GetIdentifierRequest(tenant_id=tenant, code="OWNED-BY-OTHER")).identifier
    other = sut.stub("customer_service").FindCustomer(
        customer_pb2.FindCustomerRequest(tenant_id=tenant, email="other@b.co")).customer
    assert owner.customer_id == other.id, "a conflict never moves the link"


def test_nats_down_means_503_fast_and_202_again_after_it_returns(running_system):
    sut = running_system
    secret = new_tenant(sut)
    sut.nats.stop()
    started = time.monotonic()
    status, headers, body = sut.send("acme", secret, sale("T-OUTAGE", []))
    elapsed = time.monotonic() - started
    assert status == 503, body
    assert int(headers["retry-after"]) >= 1
    assert elapsed < 3.0, f"the gateway took {elapsed:.1f}s to give up"
    assert body["status"] == 503 and "code" in body

    sut.nats.start()
    answer = wait_for(lambda: (r := sut.send("acme", secret, sale("T-AFTER", [])))[0] == 202 and r,
                      timeout=30, interval=0.5, what="a 202 after NATS came back")
    assert answer[2]["duplicate"] is False
    outcome(sut, answer[2]["event_id"])


def test_events_wait_for_a_stopped_service_and_complete_after_it_returns(running_system):
    sut = running_system
    secret = new_tenant(sut)
    codes = [f"WAIT-{i}" for i in range(10)]
    sut.cli("identifiers", "register", "--tenant", "acme", *codes)
    sut.stop("customer_service")
    event_ids = []
    for i, code in enumerate(codes):
        status, _, body = sut.send("acme", secret, sale(f"T-W{i}", [{"product_sku": "S", "quantity": 1,
                                                                    "unit_price": 1, "autentikapp_code": code}],
                                                         email=f"buyer{i}@b.co"))
        assert status == 202, body
        event_ids.append(body["event_id"])
    # Wait for the processor to have tried every event and failed for want of the service (a pause of a
    # fixed length could end before it even tried).
    processor_log = sut.group["processor"].log_path
    wait_for(lambda: all(f"event {event_id} will be retried" in processor_log.read_text() for event_id in event_ids),
             what="every event to meet the stopped service and wait for a retry")
    assert sut.cli("events", "show", event_ids[0], check=False) is None, "nothing can complete without the service"
    sut.start("customer_service")
    for event_id in event_ids:
        recorded = outcome(sut, event_id)
        assert recorded["status"] == "processed"
        assert [i["outcome"] for i in recorded["line_items"]] == ["assigned"]
    assert stream_messages(sut.nats.url, stream=bus.DEAD_LETTER_STREAM) == 0, "a wait is not a failure"


def test_signature_failures_are_401_and_reach_nothing(shared_system):
    sut = shared_system
    tenant = unique_tenant()
    secret = new_tenant(sut, tenant)
    other_secret = new_tenant(sut, unique_tenant("other"))
    body = EXAMPLE.read_bytes()
    reserialised = json.dumps(json.loads(body)).encode()
    tampered = body.replace(b"950000.00", b"950001.00", 1)
    cases = {
        "wrong secret": sut.send(tenant, "whsec_" + "A" * 43, body),
        "other tenant's secret": sut.send(tenant, other_secret, body),
        "one byte changed": sut.post(tenant, tampered, {"Content-Type": "application/json",
                                                        "X-Autentikapp-Signature": sign(secret, body)}),
        "re-serialised JSON": sut.post(tenant, body, {"Content-Type": "application/json",
                                                      "X-Autentikapp-Signature": sign(secret, reserialised)}),
        "missing header": sut.post(tenant, body, {"Content-Type": "application/json"}),
        "unknown tenant": sut.send("nobody", secret, body),
    }
    bodies = set()
    for name, (status, headers, problem) in cases.items():
        assert status == 401, name
        assert headers["content-type"].startswith("application/problem+json"), name
        bodies.add(json.dumps({k: problem[k] for k in ("type", "title", "status", "code")}, sort_keys=True))
    assert len(bodies) == 1, "an unknown tenant looks exactly like a bad signature"
    assert stream_messages(sut.nats.url, tenant) == stream_messages(sut.nats.url, "nobody") == 0


def test_a_600_kib_body_is_refused_with_413(shared_system):
    sut = shared_system
    tenant = unique_tenant()
    secret = new_tenant(sut, tenant)
    huge = copy.deepcopy(json.loads(EXAMPLE.read_bytes()))
    huge["padding"] = "x" * (600 * 1024)
    status, headers, problem = sut.send(tenant, secret, json.dumps(huge).encode())
    assert status == 413
    assert headers["content-type"].startswith("application/problem+json")
    assert stream_messages(sut.nats.url, tenant) == 0


def test_a_corrected_sale_under_the_same_transaction_id_is_409_and_the_original_stands(shared_system):
    sut = shared_system
    tenant = unique_tenant()
    secret = new_tenant(sut, tenant)
    sut.cli("identifiers", "register", "--tenant", tenant, EXAMPLE_CODE)
    item = {"product_sku": "BOLSO-CUERO-01", "quantity": 1, "unit_price": 950000, "autentikapp_code": EXAMPLE_CODE}
    original = sale("FIX-1", [item], email="first.buyer@b.co")

    status, _, accepted = sut.send(tenant, secret, original)
    assert status == 202 and accepted["duplicate"] is False, accepted
    status, headers, problem = sut.send(tenant, secret, sale("FIX-1", [{**item, "quantity": 2}],
                                                              email="second.buyer@b.co"))
    assert status == 409, problem
    assert headers["content-type"].startswith("application/problem+json")
    assert (problem["code"], problem["event_id"]) == ("transaction-conflict", accepted["event_id"])
    assert "FIX-1" in problem["detail"] and "buyer@" not in json.dumps(problem)
    status, _, again = sut.send(tenant, secret, original)
    assert status == 202 and again == {**accepted, "duplicate": True}, again

    recorded = outcome(sut, accepted["event_id"])
    assert [line["outcome"] for line in recorded["line_items"]] == ["assigned"]
    assert stream_messages(sut.nats.url, tenant) == 1, "the correction was not stored"
    buyer = sut.stub("customer_service").FindCustomer(customer_pb2.FindCustomerRequest(
        tenant_id=tenant, email="first.buyer@b.co")).customer
    assert buyer.email == "first.buyer@b.co"
