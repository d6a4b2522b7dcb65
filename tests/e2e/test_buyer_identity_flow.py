"""Buyer identity on real point-of-sale data, end to end: realistic sales signed and sent to the real
gateway (gunicorn), processed by the real processor and services, read back over gRPC and with the CLI.
Strangers sent with generic anonymous-buyer ids are never one customer, a real buyer sent twice still is,
a Colombian brand's local phone numbers become +57 numbers, the tenant's own filler is set aside, and a
point-of-sale default date is refused with a 422 that says why."""

from __future__ import annotations

import json

import grpc
from system_support import EXAMPLE

from autentikapp.v1 import customer_pb2, identifier_pb2

TENANT = "tienda"


def sale(transaction_id: str, customer: dict, codes: list[str], when: str = "2025-09-13T14:30:00-05:00") -> bytes:
    """A sale as a Colombian POS sends it: the guide's shape, this buyer, one line per code plus a bag."""
    payload = json.loads(EXAMPLE.read_bytes())
    payload["event_timestamp"] = when
    payload["customer_data"] = customer
    payload["transaction_data"]["transaction_id"] = transaction_id
    payload["transaction_data"]["line_items"] = [
        *({"product_sku": "BOLSO-01", "product_name": "Bolso de Cuero", "quantity": 1, "unit_price": 950000,
           "autentikapp_code": code} for code in codes),
        {"product_sku": "BOLSA-PAPEL", "product_name": "Bolsa", "quantity": 1, "unit_price": 0},
    ]
    return json.dumps(payload).encode()


def processed(sut, event_id: str) -> dict:
    return sut.outcome(event_id)


def owner(sut, code: str) -> str:
    request = identifier_pb2.GetIdentifierRequest(tenant_id=TENANT, code=code)
    return sut.stub("identifier_service").GetIdentifier(request).identifier.customer_id


def test_anonymous_buyers_never_share_a_customer_and_real_ones_are_found(running_system):
    sut = running_system
    secret = sut.cli("tenants", "create", "--name", "Tienda de Cueros", "--id", TENANT)["secret"]
    assert sut.cli("tenants", "country", TENANT, "CO")["default_country"] == "CO"
    assert sut.cli("tenants", "identity", "add", TENANT, "--phone", "601 456 7890")["values"] == [
        {"field": "phone_number", "value": "+576014567890"}]
    codes = [f"TAG-{n:03d}" for n in range(1, 9)]
    sut.cli("identifiers", "register", "--tenant", TENANT, *codes)

    # Four strangers, as a POS sends a sale to an unidentified buyer: DIAN's consumidor final, fillers.
    strangers = [
        {"national_id": "222222222222", "first_name": "Consumidor", "last_name": "Final"},
        {"national_id": "222.222.222.222", "email": "noemail@gmail.com"},
        {"national_id": "0", "phone_number": "300 000 0000"},
        {"email": "sincorreo@tienda.co", "phone_number": "601 456 7890"},  # the store's own phone
    ]
    stranger_events = []
    for n, buyer in enumerate(strangers, start=1):
        status, _, body = sut.send(TENANT, secret, sale(f"POS-{n}", buyer, [codes[n - 1]]))
        assert status == 202, body
        stranger_events.append(body["event_id"])

    # One real buyer, twice: a generic id beside a real e-mail, then her cédula with a local mobile number.
    status, _, first = sut.send(TENANT, secret, sale("POS-5", {"national_id": "222222222222",
                                                               "email": "Ana.Gomez@Correo-Tienda.co",
                                                               "first_name": "Ana"}, [codes[4]]))
    assert status == 202, first
    status, _, second = sut.send(TENANT, secret, sale("POS-6", {"national_id": "1.020.457.896",
                                                                "email": "ana.gomez@correo-tienda.co",
                                                                "phone_number": "(311) 444-5566"}, [codes[5]]))
    assert status == 202, second

    for event_id in stranger_events:
        outcome = processed(sut, event_id)
        assert outcome["status"] == "processed" and outcome["customer_id"] is None
        assert [i["outcome"] for i in outcome["line_items"]] == ["unidentified_buyer", "skipped"]
        assert outcome["ignored_identity"], "the outcome says what was set aside"
    assert processed(sut, stranger_events[3])["ignored_identity"] == [
        {"field": "email", "reason": "placeholder_email"}, {"field": "phone_number", "reason": "tenant_list"}]
    assert [owner(sut, code) for code in codes[:4]] == ["", "", "", ""], "no stranger owns any product"

    ana = [processed(sut, event["event_id"]) for event in (first, second)]
    assert ana[0]["customer_id"] == ana[1]["customer_id"] is not None
    assert ana[0]["ignored_identity"] == [{"field": "national_id", "reason": "generic_national_id"}]
    assert owner(sut, codes[4]) == owner(sut, codes[5]) == ana[0]["customer_id"]

    customers = sut.stub("customer_service")
    found = customers.FindCustomer(customer_pb2.FindCustomerRequest(tenant_id=TENANT, phone_number="+573114445566"))
    assert (found.customer.id, found.customer.national_id, found.customer.email) == (
        ana[0]["customer_id"], "1020457896", "ana.gomez@correo-tienda.co")
    listed = sut.cli("customers", "list", "--tenant", TENANT)
    assert [c["id"] for c in listed] == [ana[0]["customer_id"]], "one customer: strangers were never stored"
    try:
        customers.FindCustomer(customer_pb2.FindCustomerRequest(tenant_id=TENANT, national_id="222222222222"))
        raise AssertionError("the generic id found a customer")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND


def test_a_point_of_sale_default_date_and_a_local_number_without_a_country_are_422(running_system):
    sut = running_system
    secret = sut.cli("tenants", "create", "--name", "Tienda", "--id", TENANT)["secret"]
    status, _, body = sut.send(TENANT, secret, sale("POS-1", {"email": "ana.gomez@correo-tienda.co"}, [],
                                                    when="1970-01-01T00:00:00Z"))
    assert status == 422
    [error] = body["errors"]
    assert error["field"] == "event_timestamp" and "point-of-sale default date" in error["message"]
    status, _, body = sut.send(TENANT, secret, sale("POS-2", {"phone_number": "300 123 4567"}, []))
    assert status == 422
    [error] = body["errors"]
    assert error["field"] == "customer_data.phone_number" and "default country" in error["message"]
