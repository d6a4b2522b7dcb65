"""IdentifierService.AssignIdentifiers over real gRPC on a real Postgres: the four outcomes index by index,
a code named twice in one batch, per-item refusals, tenants, the size limits, provenance per item, and
two batches racing over the same codes."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import grpc
import psycopg
import pytest

from autentikapp.v1 import identifier_pb2 as pb
from autentikapp.v1 import identifier_pb2_grpc
from common.timestamps import to_timestamp
from system_support import sessions_waiting_on_locks, wait_for

SOLD_AT = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)
A, B = str(uuid.uuid4()), str(uuid.uuid4())
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]  # 3
ASSIGNED, ALREADY, CONFLICT, UNKNOWN = (pb.ASSIGN_OUTCOME_ASSIGNED, pb.ASSIGN_OUTCOME_ALREADY_ASSIGNED,
                                        pb.ASSIGN_OUTCOME_CONFLICT, pb.ASSIGN_OUTCOME_UNKNOWN_CODE)


@pytest.fixture
def stub(identifier_service):
    return identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)


def register(stub, *codes, tenant="t1"):
    return stub.RegisterIdentifiers(pb.RegisterIdentifiersRequest(tenant_id=tenant, codes=list(codes)), timeout=30)


def item(code, customer_id, tenant="t1", sold_at=SOLD_AT, **provenance) -> pb.AssignIdentifierRequest:
    return pb.AssignIdentifierRequest(
        tenant_id=tenant, code=code, customer_id=customer_id,
        provenance=pb.Provenance(sold_at=to_timestamp(sold_at), **provenance),
    )


def assign_many(stub, *items, timeout=30) -> list[pb.AssignIdentifierResult]:
    return list(stub.AssignIdentifiers(pb.AssignIdentifiersRequest(items=list(items)), timeout=timeout).results)


def outcomes(results) -> list:
    return [r.response.outcome if r.WhichOneof("result") == "response" else "error" for r in results]


def links(url: str) -> dict[tuple[str, str], str | None]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tenant_id, code, customer_id FROM identifiers").fetchall()
    return {(tenant, code): str(customer) if customer else None for tenant, code, customer in rows}


def provenance(url: str, code: str, tenant: str = "t1") -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT customer_id::text, transaction_id, product_sku, product_name, event_id, sold_at"
            " FROM identifiers WHERE tenant_id = %s AND code = %s", (tenant, code)).fetchone()


def test_the_four_outcomes_in_one_batch_answer_their_own_items(stub, identifier_db):
    """One batch whose item order is not the codes' sort order (the statement locks in code order):
    results[i] answers items[i] — assigned, already_assigned, conflict, unknown_code — and each carries its
    own code (unknown_code without an identifier)."""
    register(stub, "z-free", "m-mine", "a-theirs")
    assign_many(stub, item("m-mine", A, transaction_id="T-old"), item("a-theirs", B, transaction_id="T-b"))

    results = assign_many(
        stub,
        item("z-free", A, transaction_id="T-1"),
        item("m-mine", A, transaction_id="T-2"),
        item("a-theirs", A, transaction_id="T-3"),
        item("b-unknown", A, transaction_id="T-4"),
    )
    assert outcomes(results) == [ASSIGNED, ALREADY, CONFLICT, UNKNOWN]
    assert [r.response.identifier.code for r in results[:3]] == ["z-free", "m-mine", "a-theirs"]
    assert [r.response.identifier.customer_id for r in results[:3]] == [A, A, B]
    assert [r.response.identifier.transaction_id for r in results[:3]] == ["T-1", "T-old", "T-b"]
    assert not results[3].response.HasField("identifier")
    assert links(identifier_db) == {("t1", "z-free"): A, ("t1", "m-mine"): A, ("t1", "a-theirs"): B}


def test_the_same_code_for_two_customers_in_one_batch_goes_to_the_first(stub, identifier_db):
    """Item 0 assigns c1 to A; item 2 names c1 for B and sees item 0's link: CONFLICT, holder A; the stored
    link and provenance are item 0's. An unrelated item in between is answered in its own place."""
    register(stub, "c1", "c2")
    results = assign_many(
        stub,
        item("c1", A, transaction_id="T-A", event_id="evt-a"),
        item("c2", B, transaction_id="T-B2"),
        item("c1", B, transaction_id="T-B", event_id="evt-b"),
    )
    assert outcomes(results) == [ASSIGNED, ASSIGNED, CONFLICT]
    assert (results[2].response.identifier.customer_id, results[2].response.identifier.event_id) == (A, "evt-a")
    assert links(identifier_db) == {("t1", "c1"): A, ("t1", "c2"): B}
    assert provenance(identifier_db, "c1")[:5] == (A, "T-A", None, None, "evt-a")


def test_the_same_code_twice_for_the_same_customer_is_assigned_then_already_assigned(stub, identifier_db):
    """Idempotent within a batch: the second item is ALREADY_ASSIGNED and the first item's provenance stays."""
    register(stub, "c1")
    results = assign_many(
        stub,
        item("c1", A, transaction_id="FIRST", sold_at=SOLD_AT),
        item("c1", A, transaction_id="SECOND", sold_at=SOLD_AT + timedelta(days=1)),
    )
    assert outcomes(results) == [ASSIGNED, ALREADY]
    assert results[1].response.identifier.transaction_id == "FIRST"
    assert provenance(identifier_db, "c1") == (A, "FIRST", None, None, None, SOLD_AT)


@pytest.mark.parametrize(
    "bad,message",
    [
        (item("c2", "42"), "customer_id"),
        (item("c2", ""), "customer_id"),
        (item("has space", A), "code"),
        (item("", A), "code"),
        (item("c2", A, tenant=""), "tenant_id"),
        (item("c2", A, product_name="x" * 300), "provenance.product_name"),
    ],
    ids=["customer-not-uuid", "no-customer", "bad-code", "empty-code", "empty-tenant", "long-provenance"],
)
def test_an_invalid_item_is_an_item_error_and_the_other_items_are_applied(stub, identifier_db, bad, message):
    """The invalid item gets ItemError code 3 whose message starts with the field; it changes nothing
    (c2 stays free); the items before and after it are assigned."""
    register(stub, "c1", "c2", "c3")
    results = assign_many(stub, item("c1", A), bad, item("c3", B))
    assert outcomes(results) == [ASSIGNED, "error", ASSIGNED]
    assert results[1].error.code == INVALID_ARGUMENT
    assert results[1].error.message.startswith(message)
    assert links(identifier_db) == {("t1", "c1"): A, ("t1", "c2"): None, ("t1", "c3"): B}


def test_another_tenants_code_in_a_batch_is_unknown_and_untouched(stub, identifier_db):
    """tenant-a naming tenant-b's code gets unknown_code (nothing revealed) while tenant-b's own item in the
    same batch assigns it; tenant-a's own code is assigned."""
    register(stub, "theirs", tenant="tenant-b")
    register(stub, "mine", tenant="tenant-a")
    results = assign_many(
        stub,
        item("theirs", A, tenant="tenant-a"),
        item("mine", A, tenant="tenant-a"),
        item("theirs", B, tenant="tenant-b"),
    )
    assert outcomes(results) == [UNKNOWN, ASSIGNED, ASSIGNED]
    assert not results[0].response.HasField("identifier")
    assert links(identifier_db) == {("tenant-a", "mine"): A, ("tenant-b", "theirs"): B}


def test_the_same_code_of_two_tenants_in_one_batch_are_two_codes(stub, identifier_db):
    """A code string registered by two tenants is two identifiers: both assigned in the same round."""
    register(stub, "shared", tenant="tenant-a")
    register(stub, "shared", tenant="tenant-b")
    results = assign_many(stub, item("shared", A, tenant="tenant-a"), item("shared", B, tenant="tenant-b"))
    assert outcomes(results) == [ASSIGNED, ASSIGNED]
    assert links(identifier_db) == {("tenant-a", "shared"): A, ("tenant-b", "shared"): B}


@pytest.mark.parametrize("size", [0, 1001], ids=["empty", "1001-items"])
def test_an_empty_or_oversized_batch_fails_the_whole_call_and_assigns_nothing(stub, identifier_db, size):
    """Outside 1..1000 items the call itself is INVALID_ARGUMENT, naming `items`; no code is linked."""
    codes = [f"k{i:04d}" for i in range(max(size, 1))]
    register(stub, *codes)
    with pytest.raises(grpc.RpcError) as caught:
        stub.AssignIdentifiers(pb.AssignIdentifiersRequest(items=[item(c, A) for c in codes[:size]]), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "items" in caught.value.details()
    assert set(links(identifier_db).values()) == {None}


def test_a_full_batch_of_1000_items_is_answered_in_order(stub, identifier_db):
    """1000 items (the limit) in reverse code order: 1000 results, each for its own code."""
    codes = [f"k{i:04d}" for i in range(1000)]
    register(stub, *codes)
    results = assign_many(stub, *[item(c, A) for c in reversed(codes)], timeout=60)
    assert [r.response.identifier.code for r in results] == list(reversed(codes))
    assert outcomes(results) == [ASSIGNED] * 1000
    assert set(links(identifier_db).values()) == {A}


def test_provenance_is_stored_per_item(stub, identifier_db):
    """Three items with different sales: each code keeps its own transaction, SKU, name, event and sale
    time, in the database and in its own result."""
    register(stub, "p1", "p2", "p3")
    sales = {
        "p3": dict(transaction_id="T-3", product_sku="SKU-3", product_name="Bolso", event_id="evt-3",
                   sold_at=SOLD_AT + timedelta(hours=3)),
        "p1": dict(transaction_id="T-1", product_sku="SKU-1", product_name="Cinturón", event_id="evt-1",
                   sold_at=SOLD_AT + timedelta(hours=1)),
        "p2": dict(transaction_id="T-2", product_sku="SKU-2", product_name="Cartera", event_id="evt-2",
                   sold_at=SOLD_AT + timedelta(hours=2)),
    }
    customers = {"p1": A, "p2": B, "p3": A}
    results = assign_many(stub, *[item(code, customers[code], **sale) for code, sale in sales.items()])
    for result, (code, sale) in zip(results, sales.items()):
        got = result.response.identifier
        assert (got.code, got.customer_id, got.transaction_id, got.product_sku, got.product_name, got.event_id) == (
            code, customers[code], sale["transaction_id"], sale["product_sku"], sale["product_name"], sale["event_id"])
        assert got.sold_at.ToDatetime(tzinfo=timezone.utc) == sale["sold_at"]
        assert provenance(identifier_db, code) == (customers[code], sale["transaction_id"], sale["product_sku"],
                                                   sale["product_name"], sale["event_id"], sale["sold_at"])


def check_race(url: str, codes: list[str], forward, backward, customers: tuple[str, str]) -> None:
    """No error anywhere; every code linked to exactly one of the two customers; each code ASSIGNED in
    exactly one response and CONFLICT (naming the winner) in the other; the stored link is the winner."""
    assert all(r.WhichOneof("result") == "response" for r in forward + backward)
    by_code_forward = {r.response.identifier.code: r.response for r in forward}
    by_code_backward = {r.response.identifier.code: r.response for r in backward}
    assert set(by_code_forward) == set(by_code_backward) == set(codes)
    stored = links(url)
    for code in codes:
        pair = (by_code_forward[code].outcome, by_code_backward[code].outcome)
        assert pair in ((ASSIGNED, CONFLICT), (CONFLICT, ASSIGNED)), (code, pair)
        winner = customers[0] if pair[0] == ASSIGNED else customers[1]
        assert stored[("t1", code)] == winner
        assert by_code_forward[code].identifier.customer_id == by_code_backward[code].identifier.customer_id == winner


def test_two_batches_with_200_shared_codes_in_opposite_orders_never_fail_or_disagree(stub, identifier_db):
    """The overlap is forced: an outside transaction locks code #100, and is released only once both calls
    wait on a lock, so both statements are running at once. Locking in input order would deadlock (one
    call failing); locked in code order, one waits for the other. No error status, and every code has one
    winner that both answers agree on."""
    codes = [f"code-{i:03d}" for i in range(200)]
    register(stub, *codes)
    forward = [item(c, A, event_id="evt-a") for c in codes]
    backward = [item(c, B, event_id="evt-b") for c in reversed(codes)]

    blocker = psycopg.connect(identifier_db)
    blocker.execute("SELECT 1 FROM identifiers WHERE tenant_id = 't1' AND code = %s FOR UPDATE", (codes[100],))
    try:
        with ThreadPoolExecutor(2) as pool:
            calls = [pool.submit(assign_many, stub, *batch, timeout=60) for batch in (forward, backward)]
            wait_for(lambda: sessions_waiting_on_locks(identifier_db) >= 2, timeout=20, interval=0.01,
                     what="both batches waiting on a lock")
            blocker.rollback()
            results_forward, results_backward = (c.result() for c in calls)
    finally:
        blocker.close()
    check_race(identifier_db, codes, results_forward, results_backward, (A, B))


def test_two_unaided_concurrent_batches_with_shared_codes_agree(stub, identifier_db):
    """The same race left to chance (threads released together, codes in opposite orders, three rounds of
    200 fresh codes): never an error, always one winner per code that both answers agree on."""
    for round_ in range(3):
        codes = [f"r{round_}-{i:03d}" for i in range(200)]
        register(stub, *codes)
        start = threading.Barrier(2)

        def send(batch):
            start.wait()
            return assign_many(stub, *batch, timeout=60)

        with ThreadPoolExecutor(2) as pool:
            forward, backward = pool.map(send, [[item(c, A) for c in codes], [item(c, B) for c in reversed(codes)]])
        check_race(identifier_db, codes, forward, backward, (A, B))
