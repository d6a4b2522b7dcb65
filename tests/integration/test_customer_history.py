"""The history of every customer (docs/design.md "Customer history") over real gRPC on a real Postgres:
what each upsert writes (and does not), the order within a batch, paging, tenant isolation, erasure, and
`autentikapp customers history` in-process, masked by default."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import grpc
import psycopg
import pytest
from psycopg.rows import dict_row

from autentikapp.v1 import customer_pb2 as pb
from autentikapp.v1 import customer_pb2_grpc
from cli.main import main
from common.timestamps import to_timestamp

T0 = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)
ANA = dict(national_id="1020457896", email="ana.gomez@correo-tienda.co", phone_number="+573104567890",
           first_name="Ana", last_name="Gómez", whatsapp_number="+573157771234")


@pytest.fixture
def stub(customer_service):
    return customer_pb2_grpc.CustomerServiceStub(customer_service.channel)


def request(tenant="t1", at=T0, event_id="", **data) -> pb.UpsertCustomerRequest:
    return pb.UpsertCustomerRequest(tenant_id=tenant, data=pb.CustomerData(**data), observed_at=to_timestamp(at),
                                    event_id=event_id)


def upsert(stub, tenant="t1", at=T0, event_id="", **data) -> pb.UpsertCustomerResponse:
    return stub.UpsertCustomer(request(tenant, at, event_id, **data), timeout=30)


def history(stub, customer_id, tenant="t1") -> list[tuple]:
    """(field, value, event_id, observed_at) of every entry, following the pages."""
    entries, token = [], ""
    while True:
        page = stub.ListCustomerHistory(pb.ListCustomerHistoryRequest(
            tenant_id=tenant, customer_id=customer_id, page_token=token), timeout=10)
        entries += page.entries
        token = page.next_page_token
        if not token:
            return [(e.field, e.value, e.event_id, e.observed_at.ToDatetime(tzinfo=timezone.utc)) for e in entries]


def history_rows(url: str) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM customer_history ORDER BY id").fetchall()


def database_text(url: str) -> str:
    """Every row of every table of the customers database, as text (as test_customer_erasure does)."""
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return "\n".join(str(conn.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)


def test_a_create_writes_one_entry_per_field_given(stub, customer_db):
    created = upsert(stub, event_id="evt_create", national_id="1.020.457.896", email="Ana.Gomez@Correo-Tienda.co",
                     first_name="Ana").customer

    assert history(stub, created.id) == [
        ("national_id", "1020457896", "evt_create", T0),
        ("email", "ana.gomez@correo-tienda.co", "evt_create", T0),
        ("first_name", "Ana", "evt_create", T0),
    ]
    rows = history_rows(customer_db)
    assert {(str(r["customer_id"]), r["tenant_id"]) for r in rows} == {(created.id, "t1")}
    assert {r["recorded_at"] for r in rows} == {created.created_at.ToDatetime(tzinfo=timezone.utc)}, \
        "recorded at the transaction's now(), as the customer's created_at"


def test_an_update_writes_only_what_changed(stub, customer_db):
    created = upsert(stub, event_id="evt_1", email=ANA["email"], first_name="Ana", last_name="Gómez").customer
    later = T0 + timedelta(hours=1)
    updated = upsert(stub, at=later, event_id="evt_2", email=ANA["email"].upper(), first_name="Ana",
                     last_name="Gómez Ruiz", phone_number=ANA["phone_number"]).customer

    assert history(stub, created.id)[3:] == [
        ("phone_number", ANA["phone_number"], "evt_2", later),
        ("last_name", "Gómez Ruiz", "evt_2", later),
    ]
    [recorded] = {r["recorded_at"] for r in history_rows(customer_db)[3:]}
    assert recorded == updated.updated_at.ToDatetime(tzinfo=timezone.utc)

    # The same data again (even newer): nothing changes, nothing is written.
    upsert(stub, at=later + timedelta(hours=1), event_id="evt_3", email=ANA["email"], last_name="Gómez Ruiz")
    assert len(history_rows(customer_db)) == 5


def test_an_older_event_writes_only_the_blank_it_fills(stub):
    created = upsert(stub, event_id="evt_new", email=ANA["email"], first_name="Ana").customer
    older = T0 - timedelta(days=2)
    upsert(stub, at=older, event_id="evt_old", email=ANA["email"], first_name="Anita", last_name="Gómez")

    assert history(stub, created.id) == [
        ("email", ANA["email"], "evt_new", T0),
        ("first_name", "Ana", "evt_new", T0),
        ("last_name", "Gómez", "evt_old", older),
    ]


def test_a_clash_writes_nothing_for_the_clashing_field(stub):
    holder_of_nid = upsert(stub, national_id="1020457896", email="one@correo-tienda.co").customer
    holder_of_email = upsert(stub, email="two@correo-tienda.co", first_name="Two").customer
    later = T0 + timedelta(hours=1)
    r = upsert(stub, at=later, event_id="evt_clash", national_id="1020457896", email="two@correo-tienda.co",
               first_name="One")

    assert [c.field for c in r.clashes] == ["email"]
    assert history(stub, holder_of_nid.id)[2:] == [("first_name", "One", "evt_clash", later)]
    assert [entry[2] for entry in history(stub, holder_of_email.id)] == ["", ""], "the other customer: untouched"


def test_an_unidentified_buyer_writes_nothing(stub, customer_db):
    r = upsert(stub, event_id="evt_nobody", national_id="222222222222", first_name="Consumidor")
    assert r.unidentified
    assert history_rows(customer_db) == []


def test_a_batch_with_the_same_buyer_twice_writes_both_items_changes_in_order(stub, customer_db):
    later = T0 + timedelta(minutes=5)
    results = stub.UpsertCustomers(pb.UpsertCustomersRequest(items=[
        request(event_id="evt_a", email=ANA["email"], first_name="Ana"),
        request(event_id="evt_other", email="luis.perez@clientes.co"),
        request(event_id="evt_nobody", email="none@hotmail.com"),
        request(at=later, event_id="evt_b", email=ANA["email"], first_name="Ana María",
                phone_number=ANA["phone_number"]),
        request(event_id="not an id", email="luis.perez@clientes.co", last_name="Pérez"),
    ]), timeout=30).results
    ana = results[0].upserted.customer.id
    assert results[3].upserted.customer.id == ana and results[2].upserted.unidentified

    assert history(stub, ana) == [
        ("email", ANA["email"], "evt_a", T0),
        ("first_name", "Ana", "evt_a", T0),
        ("phone_number", ANA["phone_number"], "evt_b", later),
        ("first_name", "Ana María", "evt_b", later),
    ]
    assert history(stub, results[1].upserted.customer.id) == [
        ("email", "luis.perez@clientes.co", "evt_other", T0),
        ("last_name", "Pérez", "", T0),  # a malformed event id is not stored
    ]
    rows = history_rows(customer_db)
    assert len(rows) == 6 and len({r["recorded_at"] for r in rows}) == 1, "one transaction"


def test_history_pages_oldest_first_with_tokens_bound_to_the_customer(stub):
    created = upsert(stub, email="c0@correo-tienda.co").customer
    for i in range(1, 25):
        upsert(stub, at=T0 + timedelta(minutes=i), event_id=f"evt_{i}", email="c0@correo-tienda.co",
               first_name=f"Name{i}")
    other = upsert(stub, email="someone.else@correo-tienda.co").customer

    seen, token, pages = [], "", 0
    while True:
        page = stub.ListCustomerHistory(pb.ListCustomerHistoryRequest(
            tenant_id="t1", customer_id=created.id, page_size=10, page_token=token), timeout=10)
        seen += [(e.field, e.value) for e in page.entries]
        pages += 1
        token = page.next_page_token
        if not token:
            break
        last_token = token
    assert pages == 3
    assert seen == [("email", "c0@correo-tienda.co")] + [("first_name", f"Name{i}") for i in range(1, 25)]

    for wrong in (pb.ListCustomerHistoryRequest(tenant_id="t1", customer_id=other.id, page_token=last_token),
                  pb.ListCustomerHistoryRequest(tenant_id="t1", customer_id=created.id, page_token="garbage"),
                  pb.ListCustomerHistoryRequest(tenant_id="t1", customer_id=created.id, page_size=5000),
                  pb.ListCustomerHistoryRequest(tenant_id="t1", customer_id="not-a-uuid")):
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListCustomerHistory(wrong, timeout=10)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_another_tenants_customer_is_not_found(stub):
    theirs = upsert(stub, tenant="t2", **ANA).customer
    for tenant, customer_id in (("t1", theirs.id), ("t1", "6f1c2a8e-6a43-4c3e-9d55-2f1f0b7c9a10")):
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListCustomerHistory(pb.ListCustomerHistoryRequest(tenant_id=tenant, customer_id=customer_id),
                                     timeout=10)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert len(history(stub, theirs.id, tenant="t2")) == 6


def test_the_erasure_erases_every_value_of_the_history_and_keeps_the_facts(stub, customer_db):
    created = upsert(stub, event_id="evt_1", **{**ANA, "email": "ana.old@correo-tienda.co"}).customer
    upsert(stub, at=T0 + timedelta(days=1), event_id="evt_2", **ANA)  # the e-mail changes: the old one is history
    other = upsert(stub, event_id="evt_3", national_id="79845123", email="diego.lopez@correo-tienda.co").customer
    before = history(stub, created.id)

    stub.EraseCustomer(pb.EraseCustomerRequest(tenant_id="t1", customer_id=created.id, requested_by="DPO"),
                       timeout=30)

    text = database_text(customer_db)
    for value in (*ANA.values(), "ana.old@correo-tienda.co"):
        assert value not in text, f"{value!r} is still in the customers database"
    entries = stub.ListCustomerHistory(pb.ListCustomerHistoryRequest(tenant_id="t1", customer_id=created.id),
                                       timeout=10).entries
    assert [(e.field, e.event_id, e.value, e.value_erased) for e in entries] == [
        (field, event_id, "", True) for field, _, event_id, _ in before]
    assert [e.observed_at.ToDatetime(tzinfo=timezone.utc) for e in entries] == [at for *_, at in before]
    assert history(stub, other.id) == [("national_id", "79845123", "evt_3", T0),
                                       ("email", "diego.lopez@correo-tienda.co", "evt_3", T0)], "others keep theirs"


# --- autentikapp customers history ------------------------------------------------------------------------

@pytest.fixture
def cli(capsys, monkeypatch, customer_service):
    """Run `autentikapp` in this process against the test's customer service."""
    monkeypatch.setenv("CUSTOMER_SERVICE_ADDR", f"127.0.0.1:{customer_service.port}")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


MASKED = ("***896", "a***@correo-tienda.co", "***7890", "A***", "G***", "***1234")


def test_the_cli_masks_the_values_by_default(stub, cli):
    created = upsert(stub, event_id="evt_sale_1", **ANA).customer

    code, out, err = cli("customers", "history", "--tenant", "t1", created.id)

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["recorded_at", "field", "value", "event_id", "observed_at"]
    assert [line.split()[1:4] for line in lines[1:]] == [
        ["national_id", "***896", "evt_sale_1"], ["email", "a***@correo-tienda.co", "evt_sale_1"],
        ["phone_number", "***7890", "evt_sale_1"], ["first_name", "A***", "evt_sale_1"],
        ["last_name", "G***", "evt_sale_1"], ["whatsapp_number", "***1234", "evt_sale_1"]]
    assert all(line.split()[4] == "2025-09-13T14:30:00Z" for line in lines[1:])
    assert not any(value in out + err for value in ANA.values())

    code, out, err = cli("--json", "customers", "history", "--tenant", "t1", created.id)
    assert code == 0, err
    entries = json.loads(out)
    assert [e["value"] for e in entries] == list(MASKED)
    assert {(e["event_id"], e["observed_at"], e["value_erased"]) for e in entries} == {
        ("evt_sale_1", "2025-09-13T14:30:00Z", False)}
    assert not any(value in out for value in ANA.values())


def test_the_cli_shows_the_values_when_asked(stub, cli):
    created = upsert(stub, event_id="evt_sale_1", **ANA).customer

    code, out, err = cli("customers", "history", "--tenant", "t1", created.id, "--show-values")
    assert code == 0, err
    assert [line.split()[2] for line in out.splitlines()[1:]] == list(ANA.values())

    code, out, err = cli("--json", "customers", "history", "--tenant", "t1", created.id, "--show-values",
                         "--limit", "2", "--page-size", "1")
    assert code == 0, err
    assert [e["value"] for e in json.loads(out)] == [ANA["national_id"], ANA["email"]]


def test_the_cli_shows_erased_values_as_gone_and_another_tenant_as_not_found(stub, cli):
    created = upsert(stub, event_id="evt_sale_1", **ANA).customer
    stub.EraseCustomer(pb.EraseCustomerRequest(tenant_id="t1", customer_id=created.id, requested_by="DPO"),
                       timeout=30)

    code, out, err = cli("customers", "history", "--tenant", "t1", created.id, "--show-values")
    assert code == 0, err
    assert [line.split()[1:4] for line in out.splitlines()[1:]] == [
        [field, "(erased)", "evt_sale_1"] for field in ANA]
    code, out, _ = cli("--json", "customers", "history", "--tenant", "t1", created.id, "--show-values")
    assert {(e["value"], e["value_erased"]) for e in json.loads(out)} == {(None, True)}

    code, _, err = cli("customers", "history", "--tenant", "t2", created.id)
    assert code == 3 and "NOT_FOUND" in err
