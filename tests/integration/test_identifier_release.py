"""IdentifierService.ReleaseIdentifiers over real gRPC on a real Postgres: refunds and voids release only
the links their own sale made (release, never steal), in any order with the sale (recorded intents),
idempotently; the database guard allows exactly that; per-item refusals; tenants; and a release racing
the sale it releases."""

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
REFUNDED_AT = SOLD_AT + timedelta(days=2)
A, B = str(uuid.uuid4()), str(uuid.uuid4())
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]
ASSIGNED, ALREADY, CONFLICT, UNKNOWN, RELEASED_SALE = (
    pb.ASSIGN_OUTCOME_ASSIGNED, pb.ASSIGN_OUTCOME_ALREADY_ASSIGNED, pb.ASSIGN_OUTCOME_CONFLICT,
    pb.ASSIGN_OUTCOME_UNKNOWN_CODE, pb.ASSIGN_OUTCOME_RELEASED)
RELEASED, NOT_HELD, UNKNOWN_CODE = pb.RELEASE_OUTCOME_RELEASED, pb.RELEASE_OUTCOME_NOT_HELD, pb.RELEASE_OUTCOME_UNKNOWN_CODE
REFUND, VOID = pb.RELEASE_KIND_REFUND, pb.RELEASE_KIND_VOID


@pytest.fixture
def stub(identifier_service):
    return identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)


def register(stub, *codes, tenant="t1"):
    stub.RegisterIdentifiers(pb.RegisterIdentifiersRequest(tenant_id=tenant, codes=list(codes)), timeout=30)


def sale_item(code, customer_id, transaction_id, event_id, tenant="t1", sold_at=SOLD_AT) -> pb.AssignIdentifierRequest:
    return pb.AssignIdentifierRequest(
        tenant_id=tenant, code=code, customer_id=customer_id,
        provenance=pb.Provenance(transaction_id=transaction_id, event_id=event_id, sold_at=to_timestamp(sold_at)))


def sell(stub, transaction_id, customer_id, *codes, event_id=None, tenant="t1", timeout=30) -> list:
    """One sale of the codes (one AssignIdentifiers call); the outcomes in order."""
    event_id = event_id or f"evt-sale-{transaction_id}"
    items = [sale_item(c, customer_id, transaction_id, event_id, tenant) for c in codes]
    results = stub.AssignIdentifiers(pb.AssignIdentifiersRequest(items=items), timeout=timeout).results
    return [r.response.outcome for r in results]


def release_item(transaction_id, *codes, event_id="evt-refund", kind=REFUND, tenant="t1",
                 released_at=REFUNDED_AT) -> pb.TransactionRelease:
    return pb.TransactionRelease(tenant_id=tenant, transaction_id=transaction_id, codes=list(codes),
                                 event_id=event_id, kind=kind,
                                 released_at=to_timestamp(released_at) if released_at else None)


def release_many(stub, *items, timeout=30) -> list[pb.TransactionReleaseResult]:
    return list(stub.ReleaseIdentifiers(pb.ReleaseIdentifiersRequest(items=list(items)), timeout=timeout).results)


def answer(result: pb.TransactionReleaseResult) -> list[tuple[str, int]]:
    assert result.WhichOneof("result") == "response", result
    return [(c.code, c.outcome) for c in result.response.codes]


def release(stub, *args, **kwargs) -> list[tuple[str, int]]:
    """One release; its (code, outcome) pairs."""
    [result] = release_many(stub, release_item(*args, **kwargs))
    return answer(result)


def links(url: str, tenant: str = "t1") -> dict[str, tuple[str | None, str | None]]:
    """code -> (customer, transaction) of the tenant's codes."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT code, customer_id::text, transaction_id FROM identifiers WHERE tenant_id = %s",
                            (tenant,)).fetchall()
    return {code: (customer, transaction) for code, customer, transaction in rows}


def history(url: str, tenant: str = "t1") -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT code, action, customer_id::text, transaction_id, event_id, kind"
                            " FROM identifier_history WHERE tenant_id = %s ORDER BY id", (tenant,)).fetchall()


def intents(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT tenant_id, transaction_id, code, event_id, kind FROM transaction_releases"
                            " ORDER BY 1, 2, 3, 4").fetchall()


FREE = (None, None)


def test_a_refund_of_one_of_two_items_releases_that_code_only(stub, identifier_db):
    register(stub, "c1", "c2")
    assert sell(stub, "T1", A, "c1", "c2") == [ASSIGNED, ASSIGNED]
    assert release(stub, "T1", "c2") == [("c2", RELEASED)]
    assert links(identifier_db) == {"c1": (A, "T1"), "c2": FREE}
    got = stub.GetIdentifier(pb.GetIdentifierRequest(tenant_id="t1", code="c2"), timeout=30).identifier
    assert (got.customer_id, got.transaction_id, got.event_id, got.HasField("assigned_at")) == ("", "", "", False)
    assert intents(identifier_db) == [("t1", "T1", "c2", "evt-refund", "refund")]


def test_a_refund_without_codes_releases_every_code_of_the_sale_and_nothing_else(stub, identifier_db):
    """Whole transaction: every code held through T1 is released (answered in code order); a code of
    another sale of the same customer stays."""
    register(stub, "c3", "c1", "c2", "other")
    sell(stub, "T1", A, "c3", "c1", "c2")
    sell(stub, "T0", A, "other")
    assert release(stub, "T1") == [("c1", RELEASED), ("c2", RELEASED), ("c3", RELEASED)]
    assert links(identifier_db) == {"c1": FREE, "c2": FREE, "c3": FREE, "other": (A, "T0")}
    assert intents(identifier_db) == [("t1", "T1", "", "evt-refund", "refund")]


def test_a_void_releases_the_sale_and_is_recorded_as_a_void(stub, identifier_db):
    register(stub, "c1")
    sell(stub, "T1", A, "c1")
    assert release(stub, "T1", kind=VOID, event_id="evt-void") == [("c1", RELEASED)]
    assert links(identifier_db) == {"c1": FREE}
    assert history(identifier_db)[-1] == ("c1", "released", A, "T1", "evt-void", "void")


def test_a_refund_never_takes_a_code_resold_to_someone_else(stub, identifier_db):
    """c1 sold in T1 to A, refunded, resold in T2 to B: a second refund of T1 (another event, naming c1
    or not) answers NOT_HELD / nothing and leaves B's link alone."""
    register(stub, "c1")
    sell(stub, "T1", A, "c1")
    assert release(stub, "T1", "c1", event_id="evt-r1") == [("c1", RELEASED)]
    assert sell(stub, "T2", B, "c1") == [ASSIGNED]
    assert release(stub, "T1", "c1", event_id="evt-r2") == [("c1", NOT_HELD)]
    assert release(stub, "T1", event_id="evt-r3") == []
    assert links(identifier_db) == {"c1": (B, "T2")}


def test_a_release_of_a_free_code_or_an_unknown_code_answers_so_and_changes_nothing(stub, identifier_db):
    register(stub, "free", "held")
    register(stub, "theirs", tenant="t2")
    sell(stub, "T0", A, "held")
    assert release(stub, "T1", "free", "held", "nope", "theirs") == [
        ("free", NOT_HELD), ("held", NOT_HELD), ("nope", UNKNOWN_CODE), ("theirs", UNKNOWN_CODE)]
    assert links(identifier_db) == {"free": FREE, "held": (A, "T0")}
    assert links(identifier_db, "t2") == {"theirs": FREE}


def test_a_refund_of_an_unknown_transaction_is_kept_for_the_sale_that_arrives_later(stub, identifier_db):
    """Refund before its sale: named codes answer NOT_HELD, and when the sale arrives those codes are
    RELEASED (not linked) while its other codes are assigned: the in-order end state."""
    register(stub, "c1", "c2", "c3")
    assert release(stub, "T1", "c1", "c2") == [("c1", NOT_HELD), ("c2", NOT_HELD)]
    assert sell(stub, "T1", A, "c1", "c2", "c3") == [RELEASED_SALE, RELEASED_SALE, ASSIGNED]
    assert links(identifier_db) == {"c1": FREE, "c2": FREE, "c3": (A, "T1")}
    assert [h[:2] for h in history(identifier_db)] == [("c3", "linked")]


def test_a_void_before_its_sale_leaves_the_sale_unlinked(stub, identifier_db):
    """A whole-transaction void of a sale not processed yet answers no code; the sale then links nothing
    (RELEASED, with the identifier as stored: free) and writes no history. Another sale is not affected."""
    register(stub, "c1", "c2", "c3")
    assert release(stub, "T1", kind=VOID, event_id="evt-void") == []
    results = stub.AssignIdentifiers(pb.AssignIdentifiersRequest(items=[
        sale_item("c1", A, "T1", "evt-sale"), sale_item("c2", A, "T1", "evt-sale"),
        sale_item("c3", A, "T9", "evt-other")]), timeout=30).results
    assert [r.response.outcome for r in results] == [RELEASED_SALE, RELEASED_SALE, ASSIGNED]
    assert (results[0].response.identifier.code, results[0].response.identifier.customer_id) == ("c1", "")
    assert links(identifier_db) == {"c1": FREE, "c2": FREE, "c3": (A, "T9")}
    assert intents(identifier_db) == [("t1", "T1", "", "evt-void", "void")]


def test_a_refund_intent_does_not_block_the_resale(stub, identifier_db):
    """sold (T1, A) -> refunded (T1) -> sold (T2, B) ends linked to B: intents are per transaction."""
    register(stub, "c1", "c2")
    sell(stub, "T1", A, "c1", "c2")
    assert release(stub, "T1") == [("c1", RELEASED), ("c2", RELEASED)]
    assert sell(stub, "T2", B, "c1", "c2") == [ASSIGNED, ASSIGNED]
    assert links(identifier_db) == {"c1": (B, "T2"), "c2": (B, "T2")}


def test_a_redelivered_release_answers_the_same_and_records_nothing_new(stub, identifier_db):
    """The same refund event again (after a resale of one of its codes, even): the codes it released
    answer RELEASED again, named or whole, and nothing new is recorded or changed."""
    register(stub, "c1", "c2", "c3")
    sell(stub, "T1", A, "c1", "c2")
    first_named = release(stub, "T1", "c1", "c3", event_id="evt-r1")
    assert first_named == [("c1", RELEASED), ("c3", NOT_HELD)]
    first_whole = release(stub, "T1", event_id="evt-r2")
    assert first_whole == [("c2", RELEASED)]
    sell(stub, "T2", B, "c1")
    before = (history(identifier_db), intents(identifier_db), links(identifier_db))
    assert release(stub, "T1", "c1", "c3", event_id="evt-r1") == first_named
    assert release(stub, "T1", event_id="evt-r2") == first_whole
    assert (history(identifier_db), intents(identifier_db), links(identifier_db)) == before
    assert links(identifier_db)["c1"] == (B, "T2")


def test_the_same_release_twice_in_one_batch_answers_the_same_twice(stub, identifier_db):
    """Two items of one transaction go into separate rounds: the second sees the first's release."""
    register(stub, "c1", "c2")
    sell(stub, "T1", A, "c1", "c2")
    results = release_many(stub, release_item("T1", "c1"), release_item("T1", "c1"),
                           release_item("T1", "c1", event_id="evt-other"), release_item("T1", event_id="evt-void"))
    assert [answer(r) for r in results] == [[("c1", RELEASED)], [("c1", RELEASED)], [("c1", NOT_HELD)],
                                            [("c2", RELEASED)]]
    assert links(identifier_db) == {"c1": FREE, "c2": FREE}


def test_a_redelivered_sale_answers_the_same(stub, identifier_db):
    """A sale redelivered before its refund is ALREADY_ASSIGNED (with its own event as provenance); once
    the refund is recorded every delivery of that sale answers RELEASED and links nothing, even after
    the code was resold; a sale that arrived after its void answers RELEASED on every delivery."""
    register(stub, "c1", "c2")
    assert sell(stub, "T1", A, "c1") == [ASSIGNED]
    assert sell(stub, "T1", A, "c1") == [ALREADY]
    release(stub, "T1")
    assert sell(stub, "T1", A, "c1") == [RELEASED_SALE]
    sell(stub, "T2", B, "c1")
    assert sell(stub, "T1", A, "c1") == [RELEASED_SALE]
    release(stub, "T3", kind=VOID, event_id="evt-void")
    assert sell(stub, "T3", A, "c2") == sell(stub, "T3", A, "c2") == [RELEASED_SALE]
    assert links(identifier_db) == {"c1": (B, "T2"), "c2": FREE}


def test_a_batch_of_releases_of_several_tenants(stub, identifier_db):
    """Each item is its tenant's: the same transaction id and code string in two tenants are two sales,
    another tenant's code is unknown, and an invalid item is refused alone."""
    for tenant in ("ta", "tb"):
        register(stub, "c1", "c2", tenant=tenant)
        sell(stub, "T1", A if tenant == "ta" else B, "c1", "c2", tenant=tenant)
    register(stub, "only-b", tenant="tb")
    results = release_many(
        stub,
        release_item("T1", "c1", tenant="ta"),
        release_item("T1", "only-b", tenant="ta"),
        release_item("T1", kind=pb.RELEASE_KIND_UNSPECIFIED, tenant="tb"),
        release_item("T1", tenant="tb", kind=VOID),
    )
    assert answer(results[0]) == [("c1", RELEASED)]
    assert answer(results[1]) == [("only-b", UNKNOWN_CODE)]
    assert results[2].error.code == INVALID_ARGUMENT and results[2].error.message.startswith("kind")
    assert answer(results[3]) == [("c1", RELEASED), ("c2", RELEASED)]
    assert links(identifier_db, "ta") == {"c1": FREE, "c2": (A, "T1")}
    assert links(identifier_db, "tb") == {"c1": FREE, "c2": FREE, "only-b": FREE}


@pytest.mark.parametrize(
    "bad,field",
    [
        (release_item("T1", kind=pb.RELEASE_KIND_UNSPECIFIED), "kind"),
        (release_item(""), "transaction_id"),
        (release_item("T1", event_id=""), "event_id"),
        (release_item("T1", "bad code"), "codes[0]"),
        (release_item("T1", released_at=datetime(1970, 1, 1, tzinfo=timezone.utc)), "released_at"),
        (release_item("T1", released_at=datetime.now(timezone.utc) + timedelta(days=3)), "released_at"),
        (release_item("T1", tenant=""), "tenant_id"),
        (release_item("T1", *[f"k{i}" for i in range(501)]), "codes"),
    ],
    ids=["no-kind", "no-transaction", "no-event", "bad-code", "zero-time", "future", "no-tenant", "501-codes"],
)
def test_an_invalid_release_is_an_item_error_and_changes_nothing(stub, identifier_db, bad, field):
    """The invalid item gets ItemError 3 naming the field, releases nothing and records no intent; the
    items around it are applied."""
    register(stub, "c1", "c2", "c3")
    sell(stub, "T1", A, "c1")
    sell(stub, "T0", A, "c2")
    sell(stub, "T3", A, "c3")
    results = release_many(stub, release_item("T0", event_id="evt-0"), bad, release_item("T3", event_id="evt-3"))
    assert results[1].error.code == INVALID_ARGUMENT
    assert results[1].error.message.startswith(field)
    assert answer(results[0]) == [("c2", RELEASED)] and answer(results[2]) == [("c3", RELEASED)]
    assert links(identifier_db) == {"c1": (A, "T1"), "c2": FREE, "c3": FREE}
    assert {row[1] for row in intents(identifier_db)} == {"T0", "T3"}


def test_an_unset_release_time_means_now(stub, identifier_db):
    register(stub, "c1")
    sell(stub, "T1", A, "c1")
    before = datetime.now(timezone.utc)
    assert release(stub, "T1", released_at=None) == [("c1", RELEASED)]
    with psycopg.connect(identifier_db) as conn:
        (released_at,) = conn.execute("SELECT released_at FROM transaction_releases").fetchone()
    assert before - timedelta(seconds=5) <= released_at <= datetime.now(timezone.utc) + timedelta(seconds=5)


@pytest.mark.parametrize("size", [0, 1001], ids=["empty", "1001-items"])
def test_an_empty_or_oversized_release_batch_fails_the_whole_call(stub, identifier_db, size):
    register(stub, "c1")
    sell(stub, "T1", A, "c1")
    with pytest.raises(grpc.RpcError) as caught:
        release_many(stub, *[release_item("T1", event_id=f"e{i}") for i in range(size)])
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "items" in caught.value.details()
    assert links(identifier_db) == {"c1": (A, "T1")} and intents(identifier_db) == []


def test_the_guard_refuses_a_direct_move_and_a_direct_clear(stub, identifier_db):
    """A plain UPDATE may neither move a link (A -> B) nor clear it (A -> NULL); naming another
    transaction in the release setting does not help; naming the link's own transaction allows only
    the clear, never a move."""
    register(stub, "c1")
    sell(stub, "T1", A, "c1")
    clear = "UPDATE identifiers SET customer_id = NULL, assigned_at = NULL WHERE code = 'c1'"
    move = f"UPDATE identifiers SET customer_id = '{B}' WHERE code = 'c1'"
    allow = "SELECT set_config('autentikapp.releasing_transactions', %s, true)"
    with psycopg.connect(identifier_db) as conn:
        for statement in (move, clear):
            with pytest.raises(psycopg.errors.CheckViolation, match="already linked"):
                conn.execute(statement)
            conn.rollback()
        conn.execute(allow, ('[{"tenant_id": "t1", "transaction_id": "T2"}]',))
        with pytest.raises(psycopg.errors.CheckViolation, match="already linked"):
            conn.execute(clear)
        conn.rollback()
        conn.execute(allow, ('[{"tenant_id": "t2", "transaction_id": "T1"}]',))
        with pytest.raises(psycopg.errors.CheckViolation, match="already linked"):
            conn.execute(clear)
        conn.rollback()
        conn.execute(allow, ('[{"tenant_id": "t1", "transaction_id": "T1"}]',))
        with pytest.raises(psycopg.errors.CheckViolation, match="already linked"):
            conn.execute(move)
        conn.rollback()
        conn.execute(allow, ('[{"tenant_id": "t1", "transaction_id": "T1"}]',))
        conn.execute(clear)
        conn.rollback()  # the mechanism works; nothing is kept
    assert links(identifier_db) == {"c1": (A, "T1")}


def test_the_release_permission_ends_with_its_transaction(stub, identifier_db):
    """The setting the release statement uses is transaction-local: once that transaction is over, the
    same session cannot clear another link of the same sale."""
    register(stub, "c1", "c2")
    sell(stub, "T1", A, "c1", "c2")
    with psycopg.connect(identifier_db) as conn:
        conn.execute("SELECT set_config('autentikapp.releasing_transactions', %s, true)",
                     ('[{"tenant_id": "t1", "transaction_id": "T1"}]',))
        conn.execute("UPDATE identifiers SET customer_id = NULL, assigned_at = NULL WHERE code = 'c1'")
        conn.commit()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE identifiers SET customer_id = NULL, assigned_at = NULL WHERE code = 'c2'")
    assert links(identifier_db) == {"c1": (None, "T1"), "c2": (A, "T1")}


CODES = [f"race-{i:02d}" for i in range(20)]


def check_no_link_through_a_released_sale(url, assign_outcomes, release_answer) -> None:
    """Whatever the order: no code is linked through T1; either the sale linked them and the release
    released them, or the release found nothing held and the sale was answered RELEASED."""
    assert links(url) == {c: FREE for c in CODES}
    released = dict(release_answer)
    for code, outcome in zip(CODES, assign_outcomes):
        assert (outcome, released.get(code, NOT_HELD)) in ((ASSIGNED, RELEASED), (RELEASED_SALE, NOT_HELD)), code


@pytest.mark.parametrize(
    "first,named",
    [("sale", False), ("sale", True), ("release", True)],
    ids=["sale-first-void-of-the-whole-sale", "sale-first-refund-of-its-codes", "refund-first"],
)
def test_a_release_racing_its_sale_never_leaves_a_code_linked_through_it(stub, identifier_db, first, named):
    """An outside transaction locks one of the codes; the first call starts and waits on it (holding
    what it holds), the second starts and waits too; then the lock is released. Whichever order the
    two calls end in, no code stays linked through the released sale."""
    register(stub, *CODES)
    blocker = psycopg.connect(identifier_db)
    blocker.execute("SELECT 1 FROM identifiers WHERE code = %s FOR UPDATE", (CODES[7],))
    release_codes = CODES if named else []
    try:
        with ThreadPoolExecutor(2) as pool:
            def do_sale():
                return sell(stub, "T1", A, *CODES, timeout=60)

            def do_release():
                [result] = release_many(stub, release_item("T1", *release_codes, kind=VOID), timeout=60)
                return answer(result)

            calls = {}
            for n, name in enumerate((first, "release" if first == "sale" else "sale"), start=1):
                calls[name] = pool.submit(do_sale if name == "sale" else do_release)
                wait_for(lambda n=n: sessions_waiting_on_locks(identifier_db) >= n, timeout=20, interval=0.01,
                         what=f"{n} call(s) waiting on a lock")
            blocker.rollback()
            assign_outcomes, release_answer = calls["sale"].result(), calls["release"].result()
    finally:
        blocker.close()
    check_no_link_through_a_released_sale(identifier_db, assign_outcomes, release_answer)
    if first == "sale":
        assert assign_outcomes == [ASSIGNED] * len(CODES)
    else:
        assert assign_outcomes == [RELEASED_SALE] * len(CODES)


def test_unaided_races_of_a_sale_and_its_void_agree(stub, identifier_db):
    """The same race left to chance, ten times over fresh transactions: threads released together."""
    register(stub, *CODES)
    for round_ in range(10):
        transaction = f"T-{round_}"
        start = threading.Barrier(2)

        def do_sale():
            start.wait()
            return sell(stub, transaction, A, *CODES, timeout=60)

        def do_release():
            start.wait()
            [result] = release_many(stub, release_item(transaction, kind=VOID, event_id=f"evt-void-{round_}"),
                                    timeout=60)
            return answer(result)

        with ThreadPoolExecutor(2) as pool:
            sale, void = pool.submit(do_sale), pool.submit(do_release)
            check_no_link_through_a_released_sale(identifier_db, sale.result(), void.result())
