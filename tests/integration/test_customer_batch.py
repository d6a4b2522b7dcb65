"""CustomerService.UpsertCustomers over real gRPC on a real Postgres: per-item answers, order within a
batch, tenants, the size limits, and two batches racing over the same new buyers."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import grpc
import psycopg
import pytest
from system_support import sessions_waiting_on_locks, wait_for

from autentikapp.v1 import customer_pb2 as pb
from autentikapp.v1 import customer_pb2_grpc
from common.timestamps import to_timestamp

T0 = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]  # 3


@pytest.fixture
def stub(customer_service):
    return customer_pb2_grpc.CustomerServiceStub(customer_service.channel)


def item(tenant="t1", at=T0, **data) -> pb.UpsertCustomerRequest:
    return pb.UpsertCustomerRequest(tenant_id=tenant, data=pb.CustomerData(**data), observed_at=to_timestamp(at))


def upsert_many(stub, *items, timeout=30) -> list[pb.UpsertCustomerResult]:
    return list(stub.UpsertCustomers(pb.UpsertCustomersRequest(items=list(items)), timeout=timeout).results)


def stored(url: str, where: str = "true", params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT tenant_id, national_id, email, phone_number, first_name, last_name FROM customers"
            f" WHERE {where} ORDER BY tenant_id, national_id, email", params).fetchall()


def count_customers(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM customers").fetchone()[0]


def test_a_mixed_batch_applies_the_valid_items_and_refuses_the_invalid_one(stub, customer_db):
    """Index-aligned results: items 0 and 2 upserted, item 1 (bad e-mail) an ItemError INVALID_ARGUMENT
    naming the field, and nothing stored for item 1."""
    results = upsert_many(
        stub,
        item(email="first@b.co", first_name="First"),
        item(national_id="43871265", email="not-an-email", first_name="Refused"),
        item(email="third@b.co", first_name="Third"),
    )
    assert [r.WhichOneof("result") for r in results] == ["upserted", "error", "upserted"]
    assert (results[0].upserted.customer.email, results[0].upserted.created) == ("first@b.co", True)
    assert (results[2].upserted.customer.email, results[2].upserted.created) == ("third@b.co", True)
    assert results[1].error.code == INVALID_ARGUMENT
    assert results[1].error.message.startswith("email")
    assert stored(customer_db) == [("t1", None, "first@b.co", None, "First", None),
                                   ("t1", None, "third@b.co", None, "Third", None)]


@pytest.mark.parametrize(
    "bad,field",
    [
        (item(email="a@b.co", last_name="x" * 5000), "last_name"),
        (item(first_name="Only a name"), "at least one of"),
        (pb.UpsertCustomerRequest(tenant_id="t1"), "data"),
        (item(tenant="", email="a@b.co"), "tenant_id"),
        (item(tenant="a.b", email="a@b.co"), "tenant_id"),
        (item(email="a@b.co", at=datetime.now(timezone.utc) + timedelta(hours=25)), "observed_at"),
    ],
    ids=["long-field", "no-identity", "no-data", "empty-tenant", "bad-tenant", "25h-in-the-future"],
)
def test_each_kind_of_bad_item_is_an_item_error_and_the_rest_is_applied(stub, customer_db, bad, field):
    """Every refusal the single RPC answers with INVALID_ARGUMENT is, in a batch, an ItemError with code 3
    for that item alone (its message starts with what to fix); the good item next to it is stored."""
    results = upsert_many(stub, bad, item(email="good@b.co"))
    assert results[0].WhichOneof("result") == "error"
    assert results[0].error.code == INVALID_ARGUMENT
    assert results[0].error.message.startswith(field)
    assert results[1].upserted.created
    assert stored(customer_db) == [("t1", None, "good@b.co", None, None, None)]


def test_the_same_new_buyer_twice_in_one_batch_is_one_customer(stub, customer_db):
    """The second item sees what the first wrote: created once, then an update of the same id."""
    results = upsert_many(
        stub,
        item(national_id="79.845.123", email="buyer@b.co"),
        item(national_id="79845123", phone_number="+573001234567", first_name="Diego"),
    )
    first, second = results[0].upserted, results[1].upserted
    assert (first.created, second.created) == (True, False)
    assert second.customer.id == first.customer.id
    assert (second.customer.email, second.customer.phone_number, second.customer.first_name) == (
        "buyer@b.co", "+573001234567", "Diego")
    assert not first.clashes and not second.clashes
    assert count_customers(customer_db) == 1


def test_items_of_two_tenants_in_one_batch_are_kept_apart(stub, customer_db):
    """Same e-mail for tenant-a (an existing customer) and tenant-b (new) in one batch: tenant-a's customer
    is updated, tenant-b gets its own, and neither sees the other's data."""
    existing = upsert_many(stub, item(tenant="tenant-a", email="same@b.co", first_name="A0"))[0].upserted.customer
    results = upsert_many(
        stub,
        item(tenant="tenant-b", email="same@b.co", first_name="B"),
        item(tenant="tenant-a", at=T0 + timedelta(hours=1), email="same@b.co", first_name="A1"),
        item(tenant="tenant-b", email="same@b.co", last_name="B-last"),
    )
    b_first, a, b_again = (r.upserted for r in results)
    assert (a.created, a.customer.id, a.customer.tenant_id, a.customer.first_name) == (
        False, existing.id, "tenant-a", "A1")
    assert (b_first.created, b_first.customer.tenant_id) == (True, "tenant-b")
    assert b_first.customer.id != existing.id
    assert (b_again.created, b_again.customer.id) == (False, b_first.customer.id)
    assert not (a.clashes or b_first.clashes or b_again.clashes)
    assert stored(customer_db) == [("tenant-a", None, "same@b.co", None, "A1", None),
                                   ("tenant-b", None, "same@b.co", None, "B", "B-last")]


@pytest.mark.parametrize("size", [0, 1001], ids=["empty", "1001-items"])
def test_an_empty_or_oversized_batch_fails_the_whole_call_and_writes_nothing(stub, customer_db, size):
    """Outside 1..1000 items the call itself is INVALID_ARGUMENT (naming `items`); no item is applied."""
    items = [item(email=f"c{i}@b.co") for i in range(size)]
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpsertCustomers(pb.UpsertCustomersRequest(items=items), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "items" in caught.value.details()
    assert count_customers(customer_db) == 0


def test_a_full_batch_of_1000_items_is_accepted(stub, customer_db):
    """The limit is inclusive: 1000 buyers in one call, 1000 results in order."""
    results = upsert_many(stub, *[item(email=f"c{i:04d}@b.co") for i in range(1000)], timeout=60)
    assert [r.upserted.customer.email for r in results] == [f"c{i:04d}@b.co" for i in range(1000)]
    assert count_customers(customer_db) == 1000


def test_an_older_item_after_a_newer_one_for_the_same_buyer_only_fills_blanks(stub, customer_db):
    """Within a batch the domain rules apply item by item: the later but older item cannot overwrite the
    newer item's first_name, may fill the blank last_name, and does not move data_observed_at back."""
    results = upsert_many(
        stub,
        item(at=T0 + timedelta(hours=1), email="a@b.co", first_name="Newest"),
        item(at=T0, email="a@b.co", first_name="Stale", last_name="Filled"),
    )
    newer, older = results[0].upserted, results[1].upserted
    assert older.customer.id == newer.customer.id and not older.created
    assert (older.customer.first_name, older.customer.last_name) == ("Newest", "Filled")
    assert older.customer.data_observed_at.ToDatetime(tzinfo=timezone.utc) == T0 + timedelta(hours=1)
    assert stored(customer_db) == [("t1", None, "a@b.co", None, "Newest", "Filled")]


def test_a_newer_item_after_an_older_one_overwrites_within_the_batch(stub, customer_db):
    """The other way round, the later item is newer and its present fields win."""
    results = upsert_many(
        stub,
        item(at=T0, email="a@b.co", first_name="Old", last_name="Kept"),
        item(at=T0 + timedelta(hours=1), email="a@b.co", first_name="New"),
    )
    assert (results[1].upserted.customer.first_name, results[1].upserted.customer.last_name) == ("New", "Kept")
    assert results[1].upserted.customer.data_observed_at.ToDatetime(tzinfo=timezone.utc) == T0 + timedelta(hours=1)
    assert stored(customer_db) == [("t1", None, "a@b.co", None, "New", "Kept")]


def test_a_clash_with_a_customer_created_earlier_in_the_same_batch_is_reported_not_merged(stub, customer_db):
    """Item 0 creates buyer 1020457896 with e-mail X; item 1 is national id 52341987 with the same e-mail: another
    person, created without the e-mail, and the clash names item 0's customer."""
    results = upsert_many(
        stub,
        item(national_id="1020457896", email="shared@b.co", first_name="One"),
        item(national_id="52341987", email="shared@b.co", first_name="Two"),
    )
    one, two = results[0].upserted, results[1].upserted
    assert one.created and two.created
    assert two.customer.id != one.customer.id
    assert (two.customer.national_id, two.customer.email) == ("52341987", "")
    assert [(c.field, c.other_customer_id) for c in two.clashes] == [("email", one.customer.id)]
    assert stored(customer_db) == [("t1", "1020457896", "shared@b.co", None, "One", None),
                                   ("t1", "52341987", None, None, "Two", None)]


def test_the_national_id_wins_over_an_email_held_by_a_customer_created_earlier_in_the_batch(stub, customer_db):
    """Item 0 creates a customer by e-mail X; item 1 creates buyer 1020457896; item 2 is 1020457896 with
    e-mail X: it updates buyer 1020457896, leaves X with item 0's customer and reports the clash."""
    results = upsert_many(
        stub,
        item(email="x@b.co", first_name="Holder"),
        item(national_id="1020457896", first_name="Buyer"),
        item(at=T0 + timedelta(hours=1), national_id="1020457896", email="x@b.co", last_name="Later"),
    )
    holder, buyer, later = (r.upserted for r in results)
    assert (later.created, later.customer.id) == (False, buyer.customer.id)
    assert (later.customer.email, later.customer.last_name) == ("", "Later")
    assert [(c.field, c.other_customer_id) for c in later.clashes] == [("email", holder.customer.id)]
    assert stored(customer_db) == [("t1", "1020457896", None, None, "Buyer", "Later"),
                                   ("t1", None, "x@b.co", None, "Holder", None)]


def test_two_batches_with_the_same_new_buyers_in_opposite_orders_both_succeed(stub, customer_db):
    """Two concurrent UpsertCustomers with the same 30 new buyers, one reversed, with the overlap forced:
    an open transaction (a writer outside the service) holds buyer 15's national id, and it is released
    only once both calls are waiting on a lock, so both batches are inside their transactions at once.
    Without ordered locking (or with retries that give up) this ends in deadlocks or unique violations
    that surface as UNAVAILABLE. Both calls succeed, exactly 30 customers exist, both answers name the
    same customer per buyer, and each buyer was created by exactly one of the two calls."""
    buyers = [dict(national_id=f"9000{i:02d}", email=f"buyer{i:02d}@b.co", first_name=f"B{i}") for i in range(30)]
    forward = [item(**b) for b in buyers]
    backward = list(reversed(forward))

    blocker = psycopg.connect(customer_db)  # a transaction holding buyer 15's national id, uncommitted
    blocker.execute("INSERT INTO customers (tenant_id, national_id, data_observed_at) VALUES ('t1', %s, now())",
                    (buyers[15]["national_id"],))
    try:
        with ThreadPoolExecutor(2) as pool:
            calls = [pool.submit(upsert_many, stub, *batch, timeout=60) for batch in (forward, backward)]
            wait_for(lambda: sessions_waiting_on_locks(customer_db) >= 2, timeout=20, interval=0.01,
                     what="both calls waiting on a lock")
            blocker.rollback()
            results_forward, results_backward = (c.result() for c in calls)
    finally:
        blocker.close()

    assert all(r.WhichOneof("result") == "upserted" for r in results_forward + results_backward)
    ids_forward = [r.upserted.customer.id for r in results_forward]
    ids_backward = list(reversed([r.upserted.customer.id for r in results_backward]))
    assert ids_forward == ids_backward
    assert len(set(ids_forward)) == 30
    created = [f.upserted.created + b.upserted.created
               for f, b in zip(results_forward, reversed(results_backward))]
    assert created == [1] * 30, "each buyer created by exactly one of the two calls"
    assert count_customers(customer_db) == 30


def test_two_unaided_concurrent_batches_in_opposite_orders_agree(stub, customer_db):
    """The same race without forcing the overlap: two threads released together, each sending the same 30
    new buyers (by e-mail and phone) in opposite orders. Both calls succeed and there is one customer per
    buyer, the same one in both answers."""
    buyers = [item(email=f"buyer{i:02d}@b.co", phone_number=f"+5730011100{i:02d}") for i in range(30)]
    start = threading.Barrier(2)

    def send(batch):
        start.wait()
        return upsert_many(stub, *batch, timeout=60)

    with ThreadPoolExecutor(2) as pool:
        forward, backward = pool.map(send, [buyers, list(reversed(buyers))])
    assert all(r.WhichOneof("result") == "upserted" for r in forward + backward)
    assert [r.upserted.customer.id for r in forward] == [r.upserted.customer.id for r in reversed(backward)]
    assert [r.upserted.customer.email for r in forward] == [f"buyer{i:02d}@b.co" for i in range(30)]
    assert count_customers(customer_db) == 30


def test_a_contact_value_given_up_by_one_customer_and_taken_by_another_in_one_batch(stub, customer_db):
    """Item 1 (newer) moves customer A's e-mail from X to Y; item 2 gives customer B the freed X. One
    UPDATE of both rows may check B's new X before A lets go of it (a unique violation); the batch must
    still end as the items say, in order: A has Y, B has X, and neither call fails."""
    upsert_many(stub, item(national_id="A1", email="x@b.co"), item(national_id="B2"))
    results = upsert_many(
        stub,
        item(national_id="A1", email="y@b.co", at=T0 + timedelta(days=1)),
        item(national_id="B2", email="x@b.co", at=T0 + timedelta(days=1)),
    )
    assert [r.WhichOneof("result") for r in results] == ["upserted", "upserted"]
    assert [list(r.upserted.clashes) for r in results] == [[], []]
    assert stored(customer_db) == [("t1", "A1", "y@b.co", None, None, None),
                                   ("t1", "B2", "x@b.co", None, None, None)]


def test_the_batch_answers_each_item_with_the_row_as_that_item_left_it(stub, customer_db):
    """Three items for one new buyer: created, then changed, then unchanged; each answer shows the row
    after its own item (names as they were then), and the ids agree."""
    results = upsert_many(
        stub,
        item(email="one@b.co", first_name="Ana"),
        item(email="one@b.co", last_name="Diaz", at=T0 + timedelta(hours=1)),
        item(email="one@b.co", at=T0 + timedelta(hours=1)),
    )
    first, second, third = (r.upserted for r in results)
    assert (first.created, first.customer.last_name) == (True, "")
    assert (second.created, second.customer.first_name, second.customer.last_name) == (False, "Ana", "Diaz")
    assert (third.created, third.customer.last_name) == (False, "Diaz")
    assert first.customer.id == second.customer.id == third.customer.id
    assert second.customer.updated_at == third.customer.updated_at
    assert stored(customer_db) == [("t1", None, "one@b.co", None, "Ana", "Diaz")]


def test_a_batch_whose_one_statement_write_would_collide_is_written_item_by_item(stub, customer_db, caplog):
    """B changes first (a phone), then A gives up e-mail X, then B takes X: the batch's one UPDATE writes
    B's final row (with X) before A's, a unique violation; the retry goes item by item, in order, and
    the result is what the items say. (B is stored first, so the UPDATE meets it first.)"""
    caplog.set_level(logging.INFO, logger="customer_service.service")
    upsert_many(stub, item(national_id="B2"))
    upsert_many(stub, item(national_id="A1", email="x@b.co"))
    later = T0 + timedelta(days=1)
    results = upsert_many(
        stub,
        item(national_id="B2", phone_number="+573001112233", at=later),
        item(national_id="A1", email="y@b.co", at=later),
        item(national_id="B2", email="x@b.co", at=later),
    )
    assert [r.WhichOneof("result") for r in results] == ["upserted"] * 3
    assert any("retrying item by item" in r.getMessage() for r in caplog.records), "the fallback ran"
    with psycopg.connect(customer_db) as conn:
        rows = conn.execute("SELECT national_id, email, phone_number FROM customers ORDER BY national_id").fetchall()
    assert rows == [("A1", "y@b.co", None), ("B2", "x@b.co", "+573001112233")]
