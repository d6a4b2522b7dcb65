"""IdentifierService over real gRPC on a real Postgres: bulk registration, the four outcomes, races."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import grpc
import psycopg
import pytest

from autentikapp.v1 import identifier_pb2 as pb
from autentikapp.v1 import identifier_pb2_grpc
from common import paging
from common.timestamps import to_timestamp

SOLD_AT = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)
A, B = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def stub(identifier_service):
    return identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)


def register(stub, *codes, tenant="t1"):
    return stub.RegisterIdentifiers(pb.RegisterIdentifiersRequest(tenant_id=tenant, codes=list(codes)), timeout=30)


def assign(stub, code, customer_id, tenant="t1", **provenance):
    return stub.AssignIdentifier(
        pb.AssignIdentifierRequest(
            tenant_id=tenant, code=code, customer_id=customer_id,
            provenance=pb.Provenance(sold_at=to_timestamp(SOLD_AT), **provenance),
        ),
        timeout=10,
    )


def stored_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT tenant_id, code, customer_id FROM identifiers ORDER BY 1, 2").fetchall()


def test_register_ten_thousand_codes_in_one_call_is_idempotent(stub, identifier_db):
    codes = [f"code-{i:05d}" for i in range(10_000)]
    first = register(stub, *codes)
    assert (first.registered, first.already_registered) == (10_000, 0)
    again = register(stub, *codes[:5000], "code-new")
    assert (again.registered, again.already_registered) == (1, 5000)
    assert len(stored_rows(identifier_db)) == 10_001


def test_duplicates_within_one_request_count_once(stub):
    r = register(stub, "x1", "x1", "x2")
    assert (r.registered, r.already_registered) == (2, 0)


def test_assigned_then_already_assigned_with_provenance(stub):
    register(stub, "a1b2c3d4-e5f6-7890-1234-567890abcdef")
    r = assign(stub, "a1b2c3d4-e5f6-7890-1234-567890abcdef", A, transaction_id="FACT-00123",
               product_sku="BOLSO-CUERO-01", product_name="Bolso de Cuero Edición Limitada", event_id="evt-1")
    assert r.outcome == pb.ASSIGN_OUTCOME_ASSIGNED
    ident = stub.GetIdentifier(pb.GetIdentifierRequest(tenant_id="t1", code="a1b2c3d4-e5f6-7890-1234-567890abcdef")).identifier
    assert ident.customer_id == A
    assert (ident.transaction_id, ident.product_sku, ident.product_name, ident.event_id) == (
        "FACT-00123", "BOLSO-CUERO-01", "Bolso de Cuero Edición Limitada", "evt-1")
    assert ident.sold_at.ToDatetime(tzinfo=timezone.utc) == SOLD_AT
    assert ident.HasField("assigned_at")

    again = assign(stub, "a1b2c3d4-e5f6-7890-1234-567890abcdef", A, transaction_id="FACT-99999")
    assert again.outcome == pb.ASSIGN_OUTCOME_ALREADY_ASSIGNED
    assert again.identifier.transaction_id == "FACT-00123", "the first sale's provenance stays"


def test_conflict_never_overwrites(stub):
    register(stub, "c1")
    assign(stub, "c1", A)
    r = assign(stub, "c1", B)
    assert r.outcome == pb.ASSIGN_OUTCOME_CONFLICT
    assert r.identifier.customer_id == A
    assert stub.GetIdentifier(pb.GetIdentifierRequest(tenant_id="t1", code="c1")).identifier.customer_id == A


def test_unknown_and_other_tenants_codes_are_unknown(stub, identifier_db):
    register(stub, "theirs", tenant="tenant-b")
    assert assign(stub, "nope", A).outcome == pb.ASSIGN_OUTCOME_UNKNOWN_CODE
    r = assign(stub, "theirs", A, tenant="tenant-a")
    assert r.outcome == pb.ASSIGN_OUTCOME_UNKNOWN_CODE
    assert not r.HasField("identifier"), "nothing about another tenant's code is revealed"
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetIdentifier(pb.GetIdentifierRequest(tenant_id="tenant-a", code="theirs"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert stored_rows(identifier_db) == [("tenant-b", "theirs", None)]


def test_twenty_concurrent_assignments_one_winner_forever(stub, identifier_db):
    register(stub, "hot")
    customers = [str(uuid.uuid4()) for _ in range(20)]
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda c: assign(stub, "hot", c), customers))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(pb.ASSIGN_OUTCOME_ASSIGNED) == 1
    assert outcomes.count(pb.ASSIGN_OUTCOME_CONFLICT) == 19
    winner = customers[outcomes.index(pb.ASSIGN_OUTCOME_ASSIGNED)]
    assert all(r.identifier.customer_id == winner for r in results)
    for later in customers:
        assign(stub, "hot", later)
    assert stored_rows(identifier_db) == [("t1", "hot", uuid.UUID(winner))]


def test_the_database_refuses_to_move_a_link(stub, identifier_db):
    register(stub, "perm")
    assign(stub, "perm", A)
    with psycopg.connect(identifier_db) as conn, pytest.raises(psycopg.errors.CheckViolation, match="already linked"):
        conn.execute("UPDATE identifiers SET customer_id = %s WHERE code = 'perm'", (B,))


def test_list_by_tenant_and_customer_with_pages(stub):
    register(stub, *[f"k{i:02d}" for i in range(12)])
    register(stub, "other-tenant-code", tenant="t2")
    for code in ("k01", "k05", "k09"):
        assign(stub, code, A)
    seen, token = [], ""
    while True:
        page = stub.ListIdentifiers(pb.ListIdentifiersRequest(tenant_id="t1", page_size=5, page_token=token))
        seen += [i.code for i in page.identifiers]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"k{i:02d}" for i in range(12)]
    mine = stub.ListIdentifiers(pb.ListIdentifiersRequest(tenant_id="t1", customer_id=A)).identifiers
    assert [i.code for i in mine] == ["k01", "k05", "k09"]
    assert all(i.customer_id == A for i in mine)
    with pytest.raises(grpc.RpcError) as caught:
        page = stub.ListIdentifiers(pb.ListIdentifiersRequest(tenant_id="t1", page_size=5))
        stub.ListIdentifiers(pb.ListIdentifiersRequest(tenant_id="t2", page_token=page.next_page_token))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    forged = paging.encode({"tenant": "t1", "customer": None}, ["k\x00"])  # the right scope, a NUL in the key
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListIdentifiers(pb.ListIdentifiersRequest(tenant_id="t1", page_token=forged))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "call,request_,code,message",
    [
        ("RegisterIdentifiers", pb.RegisterIdentifiersRequest(tenant_id="", codes=["a"]), grpc.StatusCode.INVALID_ARGUMENT, "tenant_id is required"),
        ("RegisterIdentifiers", pb.RegisterIdentifiersRequest(tenant_id="t1"), grpc.StatusCode.INVALID_ARGUMENT, "codes must not be empty"),
        ("RegisterIdentifiers", pb.RegisterIdentifiersRequest(tenant_id="t1", codes=["ok", "has space"]), grpc.StatusCode.INVALID_ARGUMENT, "codes[1]"),
        ("RegisterIdentifiers", pb.RegisterIdentifiersRequest(tenant_id="t1", codes=["x" * (10 * 1024 * 1024)]), grpc.StatusCode.RESOURCE_EXHAUSTED, ""),
        ("AssignIdentifier", pb.AssignIdentifierRequest(tenant_id="t1", code="a", customer_id="42"), grpc.StatusCode.INVALID_ARGUMENT, "customer_id must be a UUID"),
        ("AssignIdentifier", pb.AssignIdentifierRequest(tenant_id="t1", code="", customer_id=A), grpc.StatusCode.INVALID_ARGUMENT, "code is required"),
        ("AssignIdentifier", pb.AssignIdentifierRequest(tenant_id="t1", code="a", customer_id=A, provenance=pb.Provenance(product_name="x" * 300)), grpc.StatusCode.INVALID_ARGUMENT, "product_name is too long"),
        ("GetIdentifier", pb.GetIdentifierRequest(tenant_id="t1", code="missing"), grpc.StatusCode.NOT_FOUND, "no identifier"),
        ("ListIdentifiers", pb.ListIdentifiersRequest(tenant_id="t1", customer_id="x"), grpc.StatusCode.INVALID_ARGUMENT, "UUID"),
    ],
    ids=["empty-tenant", "no-codes", "bad-code", "10MB-code", "bad-customer", "empty-code", "long-provenance", "missing", "bad-filter"],
)
def test_bad_input_gets_the_right_status_and_writes_nothing(stub, identifier_db, call, request_, code, message):
    register(stub, "a")
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, call)(request_, timeout=10)
    assert caught.value.code() == code
    assert message in caught.value.details()
    assert stored_rows(identifier_db) == [("t1", "a", None)]
