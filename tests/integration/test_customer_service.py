"""CustomerService over real gRPC on a real Postgres: every upsert rule, concurrency, bad input."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import grpc
import psycopg
import pytest

from autentikapp.v1 import customer_pb2 as pb
from autentikapp.v1 import customer_pb2_grpc
from common import paging
from common.timestamps import to_timestamp

T0 = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)


@pytest.fixture
def stub(customer_service):
    return customer_pb2_grpc.CustomerServiceStub(customer_service.channel)


def upsert(stub, tenant="t1", at=T0, **data):
    return stub.UpsertCustomer(
        pb.UpsertCustomerRequest(tenant_id=tenant, data=pb.CustomerData(**data), observed_at=to_timestamp(at)),
        timeout=10,
    )


def count_customers(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM customers").fetchone()[0]


def test_creates_a_customer_with_normalised_fields(stub):
    r = upsert(stub, national_id="79.845.123", email="Cliente@Email.com", phone_number="+57 300 123 4567",
               first_name="Diego", last_name="López", whatsapp_number="+573001234567")
    assert r.created
    c = r.customer
    assert (c.tenant_id, c.national_id, c.email, c.phone_number) == ("t1", "79845123", "cliente@email.com", "+573001234567")
    assert (c.first_name, c.last_name, c.whatsapp_number) == ("Diego", "López", "+573001234567")
    assert c.data_observed_at.ToDatetime(tzinfo=timezone.utc) == T0


def test_same_buyer_by_email_in_different_case(stub, customer_db):
    first = upsert(stub, email="cliente@email.com")
    second = upsert(stub, email="CLIENTE@Email.COM", first_name="Diego")
    assert not second.created
    assert second.customer.id == first.customer.id
    assert second.customer.first_name == "Diego"
    assert count_customers(customer_db) == 1


def test_same_buyer_by_national_id_with_spaces_and_dots(stub, customer_db):
    first = upsert(stub, national_id="79845123")
    second = upsert(stub, national_id=" 79.845 123 ", email="a@b.co")
    assert second.customer.id == first.customer.id
    assert second.customer.email == "a@b.co"
    assert count_customers(customer_db) == 1


def test_same_buyer_by_phone_when_no_other_match(stub):
    first = upsert(stub, phone_number="+573001234567")
    second = upsert(stub, phone_number="+57 300-123-4567", email="new@b.co")
    assert second.customer.id == first.customer.id
    assert second.customer.email == "new@b.co"


def test_newer_event_overwrites_present_fields(stub):
    upsert(stub, email="a@b.co", first_name="Old", last_name="Keep")
    r = upsert(stub, at=T0 + timedelta(hours=1), email="a@b.co", first_name="New")
    assert (r.customer.first_name, r.customer.last_name) == ("New", "Keep")


def test_older_event_does_not_overwrite_newer_data_but_fills_blanks(stub):
    upsert(stub, email="a@b.co", first_name="Current")
    r = upsert(stub, at=T0 - timedelta(days=2), email="a@b.co", first_name="Stale", last_name="Filled")
    assert (r.customer.first_name, r.customer.last_name) == ("Current", "Filled")
    assert r.customer.data_observed_at.ToDatetime(tzinfo=timezone.utc) == T0


def test_absent_or_empty_fields_never_erase(stub):
    upsert(stub, email="a@b.co", first_name="Keep", phone_number="+573001234567")
    r = upsert(stub, at=T0 + timedelta(days=1), email="a@b.co", first_name="", phone_number=" ")
    assert (r.customer.first_name, r.customer.phone_number) == ("Keep", "+573001234567")


def test_national_id_email_clash_is_reported_not_merged(stub):
    holder_of_nid = upsert(stub, national_id="1020457896", email="one@b.co").customer
    holder_of_email = upsert(stub, email="two@b.co", first_name="Two").customer
    r = upsert(stub, at=T0 + timedelta(hours=1), national_id="1020457896", email="two@b.co", first_name="One")
    assert r.customer.id == holder_of_nid.id, "the national id wins"
    assert r.customer.email == "one@b.co", "the clashing e-mail is not moved"
    assert [(c.field, c.other_customer_id) for c in r.clashes] == [("email", holder_of_email.id)]
    untouched = stub.GetCustomer(pb.GetCustomerRequest(tenant_id="t1", customer_id=holder_of_email.id)).customer
    assert (untouched.email, untouched.first_name, untouched.national_id) == ("two@b.co", "Two", "")


def test_other_national_id_behind_the_same_email_is_another_person(stub, customer_db):
    existing = upsert(stub, national_id="1020457896", email="shared@b.co").customer
    r = upsert(stub, national_id="52341987", email="shared@b.co")
    assert r.created and r.customer.id != existing.id
    assert (r.customer.national_id, r.customer.email) == ("52341987", "")
    assert [c.field for c in r.clashes] == ["email"]
    assert count_customers(customer_db) == 2


def test_customers_are_scoped_to_their_tenant(stub):
    a = upsert(stub, tenant="tenant-a", email="same@b.co").customer
    b = upsert(stub, tenant="tenant-b", email="same@b.co").customer
    assert a.id != b.id
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetCustomer(pb.GetCustomerRequest(tenant_id="tenant-b", customer_id=a.id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.FindCustomer(pb.FindCustomerRequest(tenant_id="tenant-c", email="same@b.co"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    listed = stub.ListCustomers(pb.ListCustomersRequest(tenant_id="tenant-a")).customers
    assert [c.id for c in listed] == [a.id]


def test_twenty_concurrent_upserts_of_one_new_buyer_make_one_customer(stub, customer_db):
    def one(i: int):
        return upsert(stub, national_id="1098234576", email="buyer@b.co", phone_number="+573001112233",
                      first_name=f"Name{i}")

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert len({r.customer.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert all(not r.clashes for r in results)
    assert count_customers(customer_db) == 1


def test_concurrent_events_sharing_one_contact_value_never_duplicate_it(stub, customer_db):
    """Ten buyers racing with the same e-mail and different phones: one customer holds the e-mail."""
    def one(i: int):
        return upsert(stub, email="family@b.co", phone_number=f"+5730011122{i:02d}")

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(one, range(10)))
    with psycopg.connect(customer_db) as conn:
        emails = conn.execute("SELECT count(*) FROM customers WHERE email = 'family@b.co'").fetchone()[0]
    assert emails == 1


def test_find_by_each_key_normalised(stub):
    c = upsert(stub, national_id="79845123", email="a@b.co", phone_number="+573001234567").customer
    for key in ({"national_id": "79.845.123"}, {"email": "A@B.CO"}, {"phone_number": "+57 300 1234567"}):
        assert stub.FindCustomer(pb.FindCustomerRequest(tenant_id="t1", **key)).customer.id == c.id


def test_list_pages_through_every_customer_once(stub):
    made = {upsert(stub, email=f"c{i}@b.co").customer.id for i in range(25)}
    seen, token, pages = [], "", 0
    while True:
        page = stub.ListCustomers(pb.ListCustomersRequest(tenant_id="t1", page_size=10, page_token=token))
        seen += [c.id for c in page.customers]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert len(seen) == 25 and set(seen) == made


@pytest.mark.parametrize(
    "request_kwargs,code,message",
    [
        ({"tenant_id": "", "data": pb.CustomerData(email="a@b.co")}, grpc.StatusCode.INVALID_ARGUMENT, "tenant_id is required"),
        ({"tenant_id": "a.b", "data": pb.CustomerData(email="a@b.co")}, grpc.StatusCode.INVALID_ARGUMENT, "tenant_id must be"),
        ({"tenant_id": "t1", "data": pb.CustomerData(email="not-an-email")}, grpc.StatusCode.INVALID_ARGUMENT, "email is not a valid"),
        ({"tenant_id": "t1", "data": pb.CustomerData(first_name="Only a name")}, grpc.StatusCode.INVALID_ARGUMENT, "at least one of"),
        ({"tenant_id": "t1"}, grpc.StatusCode.INVALID_ARGUMENT, "data is required"),
        ({"tenant_id": "t1", "data": pb.CustomerData(email="a@b.co", last_name="x" * 5000)}, grpc.StatusCode.INVALID_ARGUMENT, "last_name is too long"),
        ({"tenant_id": "t1", "data": pb.CustomerData(email="a@b.co", first_name="x" * 10 * 1024 * 1024)}, grpc.StatusCode.RESOURCE_EXHAUSTED, ""),
        ({"tenant_id": "t1", "data": pb.CustomerData(email="a@b.co"), "observed_at": to_timestamp(datetime.now(timezone.utc) + timedelta(days=3))}, grpc.StatusCode.INVALID_ARGUMENT, "future"),
    ],
    ids=["empty-tenant", "bad-tenant", "bad-email", "no-identity", "no-data", "long-field", "10MB-field", "future"],
)
def test_bad_input_gets_the_right_status_and_writes_nothing(stub, customer_db, request_kwargs, code, message):
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpsertCustomer(pb.UpsertCustomerRequest(**request_kwargs), timeout=10)
    assert caught.value.code() == code
    assert message in caught.value.details()
    assert count_customers(customer_db) == 0


@pytest.mark.parametrize(
    "call,request_,code",
    [
        ("GetCustomer", pb.GetCustomerRequest(tenant_id="t1", customer_id="not-a-uuid"), grpc.StatusCode.INVALID_ARGUMENT),
        ("GetCustomer", pb.GetCustomerRequest(tenant_id="t1", customer_id="00000000-0000-0000-0000-000000000000"), grpc.StatusCode.NOT_FOUND),
        ("FindCustomer", pb.FindCustomerRequest(tenant_id="t1"), grpc.StatusCode.INVALID_ARGUMENT),
        ("FindCustomer", pb.FindCustomerRequest(tenant_id="t1", email="ghost.buyer@b.co"), grpc.StatusCode.NOT_FOUND),
        ("ListCustomers", pb.ListCustomersRequest(tenant_id="t1", page_size=5000), grpc.StatusCode.INVALID_ARGUMENT),
        ("ListCustomers", pb.ListCustomersRequest(tenant_id="t1", page_token="garbage"), grpc.StatusCode.INVALID_ARGUMENT),
        # Forged by hand with the right scope: refused as a token, not an INTERNAL error from the query.
        ("ListCustomers", pb.ListCustomersRequest(tenant_id="t1", page_token=paging.encode(
            {"tenant": "t1"}, ["yesterday", "not-a-uuid"])), grpc.StatusCode.INVALID_ARGUMENT),
        ("ListCustomerHistory", pb.ListCustomerHistoryRequest(
            tenant_id="t1", customer_id="00000000-0000-0000-0000-000000000000", page_token=paging.encode(
                {"tenant": "t1", "customer": "00000000-0000-0000-0000-000000000000"}, ["1; DROP"])),
         grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_lookups_answer_with_precise_codes(stub, call, request_, code):
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, call)(request_, timeout=10)
    assert caught.value.code() == code
