"""EraseCustomer over real gRPC on a real Postgres (docs/design.md "Erasure"): the tombstone, the reads,
idempotence, tenant isolation, the audit row and log line, replays that cannot bring the person back,
newer sales that can, and an erasure racing an upsert of the same buyer."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import grpc
import psycopg
import pytest
from psycopg.rows import dict_row
from system_support import wait_for

from autentikapp.v1 import customer_pb2 as pb
from autentikapp.v1 import customer_pb2_grpc
from common.timestamps import to_timestamp
from customer_service import erasure

SOLD_AT = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)
ANA = dict(national_id="1020457896", email="ana.gomez@correo-tienda.co", phone_number="+573104567890",
           first_name="Ana", last_name="Gómez", whatsapp_number="+573157771234")
VALUES = ("1020457896", "ana.gomez@correo-tienda.co", "+573104567890", "Ana", "Gómez", "+573157771234")


@pytest.fixture
def stub(customer_service):
    return customer_pb2_grpc.CustomerServiceStub(customer_service.channel)


def upsert(stub, tenant="t1", at=SOLD_AT, **data) -> pb.UpsertCustomerResponse:
    return stub.UpsertCustomer(pb.UpsertCustomerRequest(tenant_id=tenant, data=pb.CustomerData(**data),
                                                        observed_at=to_timestamp(at)), timeout=120)


def erase(stub, customer_id, tenant="t1", requested_by="DPO Laura Ruiz", reason="habeas data HD-2025-118"):
    return stub.EraseCustomer(pb.EraseCustomerRequest(tenant_id=tenant, customer_id=customer_id,
                                                      requested_by=requested_by, reason=reason), timeout=120)


def rows(url: str, query: str, *params) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def database_text(url: str) -> str:
    """Every row of every table of the customers database, as text: where a value could hide."""
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        return "\n".join(str(conn.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)


def assert_no_trace_of_ana(url: str) -> None:
    text = database_text(url)
    for value in VALUES:
        assert value not in text, f"{value!r} is still in the customers database"


def empty_data(customer: pb.Customer) -> bool:
    return all(getattr(customer, f) == "" for f in erasure.PERSONAL_FIELDS)


def test_erasure_leaves_a_tombstone_and_no_personal_data(stub, customer_db, caplog):
    created = upsert(stub, **ANA).customer
    other = upsert(stub, national_id="79845123", email="diego.lopez@correo-tienda.co").customer
    caplog.set_level(logging.INFO, logger="customer_service")

    answer = erase(stub, created.id)

    tomb = answer.customer
    assert (tomb.id, tomb.tenant_id, answer.already_erased) == (created.id, "t1", False)
    assert tomb.HasField("erased_at") and empty_data(tomb)
    assert tomb.created_at == created.created_at and tomb.data_observed_at == created.data_observed_at
    assert list(answer.erased_fields) == list(erasure.PERSONAL_FIELDS)
    assert list(answer.identity_digests) == erasure.customer_digests("t1", ANA)
    assert not any(v in d for d in answer.identity_digests for v in VALUES)

    # Every read shows the tombstone without data, or nothing.
    got = stub.GetCustomer(pb.GetCustomerRequest(tenant_id="t1", customer_id=created.id), timeout=10).customer
    assert got == tomb
    for key in ({"national_id": ANA["national_id"]}, {"email": ANA["email"]}, {"phone_number": ANA["phone_number"]}):
        with pytest.raises(grpc.RpcError) as raised:
            stub.FindCustomer(pb.FindCustomerRequest(tenant_id="t1", **key), timeout=10)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    listed = stub.ListCustomers(pb.ListCustomersRequest(tenant_id="t1"), timeout=10).customers
    assert [(c.id, c.HasField("erased_at"), empty_data(c)) for c in listed] == [
        (created.id, True, True), (other.id, False, False)]

    # The database: a tombstone, the digests, who asked; the values nowhere.
    assert_no_trace_of_ana(customer_db)
    [record] = rows(customer_db, "SELECT * FROM erasures")
    assert (str(record["customer_id"]), record["tenant_id"], record["requested_by"], record["reason"]) == (
        created.id, "t1", "DPO Laura Ruiz", "habeas data HD-2025-118")
    assert record["erased_at"] == tomb.erased_at.ToDatetime(tzinfo=timezone.utc)
    assert record["fields"] == list(erasure.PERSONAL_FIELDS)
    listed_digests = rows(customer_db, "SELECT tenant_id, digest, customer_id, erased_at FROM erased_identities")
    assert sorted(r["digest"] for r in listed_digests) == list(answer.identity_digests)
    assert {(r["tenant_id"], str(r["customer_id"]), r["erased_at"]) for r in listed_digests} == {
        ("t1", created.id, record["erased_at"])}

    # One INFO line: who, when, which fields by name; never a value.
    [line] = [r for r in caplog.records if "erased at" in r.getMessage()]
    text = line.getMessage()
    assert line.levelno == logging.INFO
    for part in (created.id, "t1", "DPO Laura Ruiz", "habeas data HD-2025-118", "national_id, email, phone_number"):
        assert part in text
    assert not any(v in text or v in str(line.__dict__) for v in VALUES)


def test_erasing_again_answers_the_same_tombstone_and_records_nothing_new(stub, customer_db, caplog):
    created = upsert(stub, **ANA).customer
    first = erase(stub, created.id)
    caplog.set_level(logging.INFO, logger="customer_service")

    again = erase(stub, created.id, requested_by="another operator", reason="")

    assert again.already_erased
    assert again.customer == first.customer
    assert (list(again.erased_fields), list(again.identity_digests)) == (
        list(first.erased_fields), list(first.identity_digests))
    assert len(rows(customer_db, "SELECT * FROM erasures")) == 1
    assert rows(customer_db, "SELECT requested_by FROM erasures") == [{"requested_by": "DPO Laura Ruiz"}]
    assert any("erasure requested again by 'another operator'" in r.getMessage() for r in caplog.records)


def test_another_tenants_customer_is_not_found_and_stays_untouched(stub, customer_db):
    theirs = upsert(stub, tenant="t2", **ANA).customer
    for tenant, customer_id in (("t1", theirs.id), ("t1", "6f1c2a8e-6a43-4c3e-9d55-2f1f0b7c9a10")):
        with pytest.raises(grpc.RpcError) as raised:
            erase(stub, customer_id, tenant=tenant)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    still = stub.GetCustomer(pb.GetCustomerRequest(tenant_id="t2", customer_id=theirs.id), timeout=10).customer
    assert still == theirs and not still.HasField("erased_at")
    assert rows(customer_db, "SELECT * FROM erasures") == []


@pytest.mark.parametrize("requested_by,customer_id,field", [
    ("", "6f1c2a8e-6a43-4c3e-9d55-2f1f0b7c9a10", "requested_by"),
    ("dpo", "not-a-uuid", "customer_id"),
])
def test_a_bad_request_is_invalid_argument(stub, requested_by, customer_id, field):
    with pytest.raises(grpc.RpcError) as raised:
        erase(stub, customer_id, requested_by=requested_by)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in raised.value.details()


def test_a_replayed_older_sale_finds_nobody_and_writes_nothing(stub, customer_db):
    created = upsert(stub, **ANA).customer
    erase(stub, created.id)

    replay = upsert(stub, **ANA)  # the same sale again, dated before the erasure

    assert replay.unidentified and not replay.HasField("customer")
    assert [(i.field, i.reason) for i in replay.ignored] == [
        ("national_id", "erased"), ("email", "erased"), ("phone_number", "erased"), ("whatsapp_number", "erased")]
    assert len(rows(customer_db, "SELECT id FROM customers")) == 1
    assert_no_trace_of_ana(customer_db)


def test_a_replayed_older_sale_keeps_only_the_keys_that_were_not_erased(stub, customer_db):
    created = upsert(stub, national_id=ANA["national_id"], first_name="Ana").customer
    erase(stub, created.id)

    replay = upsert(stub, at=SOLD_AT + timedelta(days=1), national_id="1.020.457.896",
                    email="compras@ferreteria-ruiz.co", first_name="Ana")

    assert not replay.unidentified and replay.created
    assert (replay.customer.national_id, replay.customer.email) == ("", "compras@ferreteria-ruiz.co")
    assert [(i.field, i.reason) for i in replay.ignored] == [("national_id", "erased")]
    assert replay.customer.id != created.id
    assert "1020457896" not in database_text(customer_db)


def test_a_sale_newer_than_the_erasure_creates_a_new_customer(stub, customer_db):
    created = upsert(stub, **ANA).customer
    tomb = erase(stub, created.id).customer
    later = tomb.erased_at.ToDatetime(tzinfo=timezone.utc) + timedelta(minutes=5)

    newer = upsert(stub, at=later, **ANA)

    assert newer.created and newer.customer.id != created.id and not newer.ignored
    assert (newer.customer.national_id, newer.customer.email, newer.customer.first_name) == (
        ANA["national_id"], ANA["email"], "Ana")
    still = stub.GetCustomer(pb.GetCustomerRequest(tenant_id="t1", customer_id=created.id), timeout=10).customer
    assert still == tomb, "the tombstone stays a tombstone"


def test_a_batch_sets_aside_per_item_by_its_own_time(stub, customer_db):
    created = upsert(stub, **ANA).customer
    tomb = erase(stub, created.id).customer
    erased_at = tomb.erased_at.ToDatetime(tzinfo=timezone.utc)

    def item(at):
        return pb.UpsertCustomerRequest(tenant_id="t1", data=pb.CustomerData(**ANA), observed_at=to_timestamp(at))

    old, same_time, new = stub.UpsertCustomers(pb.UpsertCustomersRequest(items=[
        item(SOLD_AT), item(erased_at), item(erased_at + timedelta(seconds=1))]), timeout=30).results
    assert old.upserted.unidentified and same_time.upserted.unidentified
    assert new.upserted.created and new.upserted.customer.national_id == ANA["national_id"]


def test_the_erased_values_of_one_tenant_do_not_touch_another(stub):
    created = upsert(stub, **ANA).customer
    erase(stub, created.id)
    theirs = upsert(stub, tenant="t2", **ANA)
    assert theirs.created and not theirs.ignored and theirs.customer.national_id == ANA["national_id"]


# --- an erasure racing an upsert of the same buyer ------------------------------------------------------

def waiting(url: str, wait_event: str, query_start: str) -> bool:
    """True when a session of this database waits on a lock of this kind while running this statement."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND wait_event_type = 'Lock' AND wait_event = %s AND ltrim(query, E' \\n') LIKE %s",
            (wait_event, query_start + "%")).fetchone()[0] > 0


def test_an_upsert_arriving_while_the_erasure_commits_finds_nobody(stub, customer_db):
    """The erasure is held just before its last statement (a transaction outside the service locks the
    erasures table), holding its locks; an older sale of the same buyer arrives and waits; once the
    erasure commits, the sale finds the values on the suppression list: nothing of the person is written."""
    created = upsert(stub, **ANA).customer
    blocker = psycopg.connect(customer_db)
    blocker.execute("LOCK TABLE erasures IN EXCLUSIVE MODE")
    try:
        with ThreadPoolExecutor(2) as pool:
            erasing = pool.submit(erase, stub, created.id)
            wait_for(lambda: waiting(customer_db, "relation", "INSERT INTO erasures"), timeout=60, interval=0.01,
                     what="the erasure held before its last statement")
            upserting = pool.submit(upsert, stub, **{**ANA, "first_name": "Ana María"})
            wait_for(lambda: waiting(customer_db, "advisory", "SELECT now()"), timeout=60, interval=0.01,
                     what="the upsert waiting for the buyer's identity locks")
            blocker.rollback()
            erased, replay = erasing.result(), upserting.result()
    finally:
        blocker.close()

    assert not erased.already_erased
    assert replay.unidentified and {i.reason for i in replay.ignored} == {"erased"}
    assert len(rows(customer_db, "SELECT id FROM customers")) == 1
    assert_no_trace_of_ana(customer_db)
    assert "Ana María" not in database_text(customer_db)


def test_an_erasure_arriving_while_an_upsert_writes_erases_what_it_wrote(stub, customer_db):
    """The upsert is held before its write (a transaction outside the service blocks writes to customers),
    holding the buyer's locks; the erasure arrives and waits for them; once the upsert commits (adding a
    new phone and a name), the erasure erases the customer as the upsert left it."""
    created = upsert(stub, national_id=ANA["national_id"], email=ANA["email"]).customer
    blocker = psycopg.connect(customer_db)
    blocker.execute("LOCK TABLE customers IN SHARE MODE")
    try:
        with ThreadPoolExecutor(2) as pool:
            upserting = pool.submit(upsert, stub, at=SOLD_AT + timedelta(days=1), **ANA)
            wait_for(lambda: waiting(customer_db, "relation", "UPDATE customers"), timeout=60, interval=0.01,
                     what="the upsert held before its write")
            erasing = pool.submit(erase, stub, created.id)
            wait_for(lambda: waiting(customer_db, "advisory", "SELECT now()"), timeout=60, interval=0.01,
                     what="the erasure waiting for the buyer's identity locks")
            blocker.rollback()
            written, erased = upserting.result(), erasing.result()
    finally:
        blocker.close()

    assert written.customer.id == created.id and written.customer.phone_number == ANA["phone_number"]
    assert erased.customer.id == created.id and empty_data(erased.customer)
    assert list(erased.erased_fields) == list(erasure.PERSONAL_FIELDS), "what the upsert added is erased too"
    assert set(erased.identity_digests) == set(erasure.customer_digests("t1", ANA))
    assert len(rows(customer_db, "SELECT id FROM customers")) == 1
    assert_no_trace_of_ana(customer_db)
    assert upsert(stub, **ANA).unidentified, "and a replay of that sale finds nobody"
