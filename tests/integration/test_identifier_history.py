"""IdentifierService.ListIdentifierHistory and `autentikapp identifiers history` over real gRPC on a real
Postgres: every link and release of a code, oldest first, written with the change itself; paging;
tenants."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from autentikapp.v1 import identifier_pb2 as pb
from autentikapp.v1 import identifier_pb2_grpc
from cli.main import main
from common.timestamps import to_timestamp

SOLD_AT = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)
A, B = str(uuid.uuid4()), str(uuid.uuid4())
LINKED, RELEASED = pb.HISTORY_ACTION_LINKED, pb.HISTORY_ACTION_RELEASED


@pytest.fixture
def stub(identifier_service):
    return identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)


def register(stub, *codes, tenant="t1"):
    stub.RegisterIdentifiers(pb.RegisterIdentifiersRequest(tenant_id=tenant, codes=list(codes)), timeout=30)


def sell(stub, transaction_id, customer_id, *codes, event_id, sold_at=SOLD_AT, tenant="t1") -> list:
    items = [pb.AssignIdentifierRequest(
        tenant_id=tenant, code=c, customer_id=customer_id,
        provenance=pb.Provenance(transaction_id=transaction_id, event_id=event_id, sold_at=to_timestamp(sold_at)))
        for c in codes]
    return [r.response.outcome for r in stub.AssignIdentifiers(pb.AssignIdentifiersRequest(items=items),
                                                               timeout=30).results]


def release(stub, transaction_id, *codes, event_id, kind=pb.RELEASE_KIND_REFUND, at=SOLD_AT, tenant="t1") -> list:
    item = pb.TransactionRelease(tenant_id=tenant, transaction_id=transaction_id, codes=list(codes),
                                 event_id=event_id, kind=kind, released_at=to_timestamp(at))
    [result] = stub.ReleaseIdentifiers(pb.ReleaseIdentifiersRequest(items=[item]), timeout=30).results
    return [(c.code, c.outcome) for c in result.response.codes]


def entries(stub, code, tenant="t1", page_size=0, page_token="") -> pb.ListIdentifierHistoryResponse:
    return stub.ListIdentifierHistory(pb.ListIdentifierHistoryRequest(
        tenant_id=tenant, code=code, page_size=page_size, page_token=page_token), timeout=30)


def summary(response) -> list[tuple]:
    return [(e.action, e.customer_id, e.transaction_id, e.event_id, e.kind, e.at.ToDatetime(tzinfo=timezone.utc))
            for e in response.entries]


def resale(stub) -> None:
    """c1: sold (T1, A), refunded (T1), sold (T2, B), voided (T2), sold (T3, A)."""
    register(stub, "c1")
    day = timedelta(days=1)
    assert sell(stub, "T1", A, "c1", event_id="evt-s1") == [pb.ASSIGN_OUTCOME_ASSIGNED]
    release(stub, "T1", "c1", event_id="evt-r1", at=SOLD_AT + day)
    assert sell(stub, "T2", B, "c1", event_id="evt-s2", sold_at=SOLD_AT + 2 * day) == [pb.ASSIGN_OUTCOME_ASSIGNED]
    release(stub, "T2", event_id="evt-v2", kind=pb.RELEASE_KIND_VOID, at=SOLD_AT + 3 * day)
    assert sell(stub, "T3", A, "c1", event_id="evt-s3", sold_at=SOLD_AT + 4 * day) == [pb.ASSIGN_OUTCOME_ASSIGNED]


RESALE = [
    (LINKED, A, "T1", "evt-s1", pb.RELEASE_KIND_UNSPECIFIED, SOLD_AT),
    (RELEASED, A, "T1", "evt-r1", pb.RELEASE_KIND_REFUND, SOLD_AT + timedelta(days=1)),
    (LINKED, B, "T2", "evt-s2", pb.RELEASE_KIND_UNSPECIFIED, SOLD_AT + timedelta(days=2)),
    (RELEASED, B, "T2", "evt-v2", pb.RELEASE_KIND_VOID, SOLD_AT + timedelta(days=3)),
    (LINKED, A, "T3", "evt-s3", pb.RELEASE_KIND_UNSPECIFIED, SOLD_AT + timedelta(days=4)),
]


def test_a_resale_keeps_every_link_and_release_oldest_first(stub, identifier_db):
    resale(stub)
    response = entries(stub, "c1")
    assert summary(response) == RESALE
    assert response.next_page_token == ""
    assert all((e.tenant_id, e.code) == ("t1", "c1") and e.HasField("recorded_at") for e in response.entries)


def test_answers_that_change_nothing_write_no_history(stub, identifier_db):
    """ALREADY_ASSIGNED, CONFLICT, NOT_HELD, a sale released before it arrived, and a redelivered release
    add no entry."""
    register(stub, "c1", "c2")
    sell(stub, "T1", A, "c1", event_id="evt-s1")
    assert sell(stub, "T1", A, "c1", event_id="evt-s1") == [pb.ASSIGN_OUTCOME_ALREADY_ASSIGNED]
    assert sell(stub, "T9", B, "c1", event_id="evt-s9") == [pb.ASSIGN_OUTCOME_CONFLICT]
    assert release(stub, "T9", "c1", "c2", event_id="evt-r9") == [
        ("c1", pb.RELEASE_OUTCOME_NOT_HELD), ("c2", pb.RELEASE_OUTCOME_NOT_HELD)]
    assert sell(stub, "T9", B, "c2", event_id="evt-s9") == [pb.ASSIGN_OUTCOME_RELEASED]
    release(stub, "T1", event_id="evt-r1")
    release(stub, "T1", event_id="evt-r1")
    assert [e.action for e in entries(stub, "c1").entries] == [LINKED, RELEASED]
    assert list(entries(stub, "c2").entries) == []


def test_history_pages_are_keyset_and_bound_to_the_code(stub, identifier_db):
    resale(stub)
    register(stub, "c2")
    seen, token, pages = [], "", 0
    while True:
        response = entries(stub, "c1", page_size=2, page_token=token)
        seen.extend(summary(response))
        pages += 1
        token = response.next_page_token
        if not token:
            break
        with pytest.raises(grpc.RpcError) as caught:
            entries(stub, "c2", page_token=token)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert seen == RESALE and pages == 3
    with pytest.raises(grpc.RpcError) as caught:
        entries(stub, "c1", page_size=1001)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_unknown_or_another_tenants_code_is_not_found(stub, identifier_db):
    resale(stub)
    for tenant, code in (("t1", "nope"), ("t2", "c1")):
        with pytest.raises(grpc.RpcError) as caught:
            entries(stub, code, tenant=tenant)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        entries(stub, "bad code")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def cli(identifier_service, monkeypatch, capsys):
    """Run the CLI against the real service; return (exit code, stdout, stderr)."""
    monkeypatch.setenv("IDENTIFIER_SERVICE_ADDR", f"127.0.0.1:{identifier_service.port}")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_cli_identifiers_history_table_json_limit_and_not_found(stub, cli):
    resale(stub)
    code, out, err = cli("identifiers", "history", "--tenant", "t1", "c1")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["at", "action", "customer_id", "transaction_id", "event_id"]
    assert [line.split()[:5] for line in lines[1:]] == [
        ["2025-09-13T14:30:00Z", "linked", A, "T1", "evt-s1"],
        ["2025-09-14T14:30:00Z", "released", "(refund)", A, "T1"],
        ["2025-09-15T14:30:00Z", "linked", B, "T2", "evt-s2"],
        ["2025-09-16T14:30:00Z", "released", "(void)", B, "T2"],
        ["2025-09-17T14:30:00Z", "linked", A, "T3", "evt-s3"],
    ]

    code, out, err = cli("identifiers", "history", "--tenant", "t1", "c1", "--json", "--page-size", "2")
    assert code == 0
    data = json.loads(out)
    assert [(d["action"], d["event_id"]) for d in data] == [
        ("HISTORY_ACTION_LINKED", "evt-s1"), ("HISTORY_ACTION_RELEASED", "evt-r1"), ("HISTORY_ACTION_LINKED", "evt-s2"),
        ("HISTORY_ACTION_RELEASED", "evt-v2"), ("HISTORY_ACTION_LINKED", "evt-s3")]
    assert data[1]["kind"] == "RELEASE_KIND_REFUND" and data[1]["at"] == "2025-09-14T14:30:00Z"

    code, out, err = cli("identifiers", "history", "--tenant", "t1", "c1", "--limit", "2")
    assert code == 0 and len(out.splitlines()) == 3 and "there are more" in err

    code, out, err = cli("identifiers", "history", "--tenant", "t1", "nope")
    assert code == 3 and out == "" and err.startswith("autentikapp: not found: ")

    register(stub, "fresh")
    assert cli("identifiers", "history", "--tenant", "t1", "fresh")[:2] == (0, "no history entries\n")
