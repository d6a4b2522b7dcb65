"""Buyer identity on real point-of-sale data, through the real CustomerService over gRPC on a real
Postgres: values that identify nobody are set aside (never matched, never stored, reported), a buyer
left with none is unidentified and nothing is written, the tenant's rules travel with the request, and
a point-of-sale default date is refused instead of dating the buyer's data."""

from __future__ import annotations

from datetime import datetime, timezone

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from autentikapp.v1 import customer_pb2 as pb
from autentikapp.v1 import customer_pb2_grpc
from common.timestamps import to_timestamp

T0 = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)
COLOMBIA = pb.BuyerIdentityRules(default_country="CO")


@pytest.fixture
def stub(customer_service):
    return customer_pb2_grpc.CustomerServiceStub(customer_service.channel)


def upsert(stub, *, rules=None, at=T0, tenant="t1", **data) -> pb.UpsertCustomerResponse:
    request = pb.UpsertCustomerRequest(tenant_id=tenant, data=pb.CustomerData(**data), observed_at=to_timestamp(at))
    if rules is not None:
        request.rules.CopyFrom(rules)
    return stub.UpsertCustomer(request, timeout=10)


def ignored(response) -> list[tuple[str, str]]:
    return [(i.field, i.reason) for i in response.ignored]


def stored(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT national_id, email, phone_number, whatsapp_number FROM customers "
                            "ORDER BY created_at").fetchall()


@pytest.mark.parametrize("national_id, reason", [
    ("222222222222", "generic_national_id"),  # Colombia's DIAN "consumidor final"
    ("9999999999999", "generic_national_id"),  # Ecuador's SRI "consumidor final"
    ("XAXX010101000", "generic_national_id"),  # Mexico's SAT "público en general"
    ("66.666.666-6", "generic_national_id"),  # Chile's SII, a boleta without a buyer
    ("00000000", "generic_national_id"),  # Peru, "clientes varios"
    ("0", "generic_national_id"),  # Argentina, consumidor final (DocTipo 99)
    ("1111111111", "degenerate_value"),
    ("123456789", "degenerate_value"),
])
def test_strangers_with_the_same_anonymous_buyer_id_are_never_one_customer(stub, customer_db, national_id, reason):
    first = upsert(stub, national_id=national_id, first_name="Ana")
    second = upsert(stub, national_id=national_id, first_name="Luis")
    for response in (first, second):
        assert response.unidentified and not response.HasField("customer") and not response.created
        assert ignored(response) == [("national_id", reason)]
    assert stored(customer_db) == [], "nothing is written for an unidentified buyer"


def test_a_generic_id_is_set_aside_and_the_buyer_is_found_by_a_real_value(stub, customer_db):
    real = upsert(stub, national_id="1020457896", email="ana.gomez@correo-tienda.co")
    again = upsert(stub, national_id="222222222222", email="Ana.Gomez@correo-tienda.co",
                   phone_number="+57 300 000 0000", first_name="Ana")
    assert not again.unidentified and again.customer.id == real.customer.id
    assert ignored(again) == [("national_id", "generic_national_id"), ("phone_number", "placeholder_phone")]
    assert again.customer.national_id == "1020457896", "the generic id never overwrites the real one"
    assert stored(customer_db) == [("1020457896", "ana.gomez@correo-tienda.co", None, None)]


def test_a_real_buyer_sent_twice_is_still_one_customer(stub, customer_db):
    first = upsert(stub, national_id="79.845.123", email="luis.perez@clientes.co")
    second = upsert(stub, national_id="79845123", phone_number="+573114445566")
    assert first.created and not second.created and second.customer.id == first.customer.id
    assert ignored(first) == ignored(second) == []
    assert len(stored(customer_db)) == 1


@pytest.mark.parametrize("data, expected", [
    ({"email": "noemail@gmail.com"}, [("email", "placeholder_email")]),
    ({"email": "sincorreo@tienda.co", "phone_number": "+573333333333"},
     [("email", "placeholder_email"), ("phone_number", "placeholder_phone")]),
    ({"email": "correo@correo.com", "national_id": "0000000000"},
     [("national_id", "degenerate_value"), ("email", "placeholder_email")]),
])
def test_placeholder_emails_and_phones_identify_nobody(stub, customer_db, data, expected):
    response = upsert(stub, **data)
    assert response.unidentified and ignored(response) == expected
    assert stored(customer_db) == []


def test_a_placeholder_whatsapp_is_not_stored_but_does_not_unidentify_the_buyer(stub, customer_db):
    response = upsert(stub, email="maria.lopez@gmail.com", whatsapp_number="+571234567890")
    assert not response.unidentified and response.customer.whatsapp_number == ""
    assert ignored(response) == [("whatsapp_number", "placeholder_phone")]


def test_the_tenants_own_list_is_applied_like_the_built_in_values(stub, customer_db):
    rules = pb.BuyerIdentityRules(ignored_phone_numbers=["+576014567890"], ignored_emails=["caja1@tienda.co"])
    store_phone = upsert(stub, rules=rules, phone_number="+57 601 456 7890")
    assert store_phone.unidentified and ignored(store_phone) == [("phone_number", "tenant_list")]
    with_email = upsert(stub, rules=rules, email="Caja1@Tienda.co", national_id="52341987")
    assert not with_email.unidentified and ignored(with_email) == [("email", "tenant_list")]
    assert with_email.customer.email == "" and with_email.customer.national_id == "52341987"
    other_tenant = upsert(stub, tenant="t2", phone_number="+57 601 456 7890")
    assert not other_tenant.unidentified, "a tenant's list is its own"


def test_the_default_country_completes_phone_numbers_sent_without_a_country_code(stub, customer_db):
    response = upsert(stub, rules=COLOMBIA, phone_number="300 123 4567", whatsapp_number="(300) 123-4567")
    assert (response.customer.phone_number, response.customer.whatsapp_number) == ("+573001234567",) * 2
    again = upsert(stub, phone_number="+57 300 123 4567")  # the same number with its code: the same buyer
    assert again.customer.id == response.customer.id


def test_without_a_default_country_a_number_without_country_code_is_invalid(stub):
    with pytest.raises(grpc.RpcError) as caught:
        upsert(stub, phone_number="300 123 4567")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "country code" in caught.value.details()


def test_an_unknown_default_country_is_invalid(stub):
    with pytest.raises(grpc.RpcError) as caught:
        upsert(stub, rules=pb.BuyerIdentityRules(default_country="XX"), email="ana@gmail.com")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rules.default_country" in caught.value.details()


def test_no_contact_value_at_all_is_still_a_callers_mistake(stub):
    with pytest.raises(grpc.RpcError) as caught:
        upsert(stub, first_name="Ana")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_in_a_batch_an_unidentified_buyer_is_answered_as_such_and_the_others_are_applied(stub, customer_db):
    items = [pb.UpsertCustomerRequest(tenant_id="t1", data=pb.CustomerData(**data), observed_at=to_timestamp(T0))
             for data in ({"national_id": "222222222222"}, {"email": "luis.perez@clientes.co"},
                          {"email": "none@hotmail.com"})]
    results = stub.UpsertCustomers(pb.UpsertCustomersRequest(items=items), timeout=10).results
    assert [r.upserted.unidentified for r in results] == [True, False, True]
    assert results[1].upserted.created
    assert [r[1] for r in stored(customer_db)] == ["luis.perez@clientes.co"]


# -- dates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, -2208988800, 946684799])  # 1970, 1900, 1999-12-31T23:59:59Z
def test_a_point_of_sale_default_date_is_invalid_not_now(stub, customer_db, seconds):
    """A zero Timestamp is 1970-01-01, which a sale never has: refused, not read as "unset, use now"."""
    request = pb.UpsertCustomerRequest(tenant_id="t1", data=pb.CustomerData(email="ana@gmail.com"),
                                       observed_at=Timestamp(seconds=seconds))
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpsertCustomer(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("observed_at is before 2000-01-01")
    assert stored(customer_db) == []


def test_an_old_dated_event_never_overwrites_newer_data(stub, customer_db):
    upsert(stub, email="ana@gmail.com", first_name="Ana María", at=T0)
    request = pb.UpsertCustomerRequest(tenant_id="t1", data=pb.CustomerData(email="ana@gmail.com", first_name="X"),
                                       observed_at=Timestamp(seconds=0))
    with pytest.raises(grpc.RpcError):
        stub.UpsertCustomer(request, timeout=10)
    assert upsert(stub, email="ana@gmail.com").customer.first_name == "Ana María"


def test_an_unset_time_means_now(stub):
    request = pb.UpsertCustomerRequest(tenant_id="t1", data=pb.CustomerData(email="ana@gmail.com"))
    response = stub.UpsertCustomer(request, timeout=10)
    assert response.customer.data_observed_at.ToDatetime(tzinfo=timezone.utc) > T0
