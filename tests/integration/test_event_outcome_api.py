"""EventOutcomeService (processor/outcome_api.py) over real gRPC and mutual TLS, on a real Postgres with the
processor's migrations: the listing's order, filters and pages, tokens bound to the tenant and the
filters, one tenant never seeing another's events, the roles allowed, and `autentikapp events show`
still reading the table."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import grpc
import psycopg
import pytest
from tls_support import tls_files

from autentikapp.v1 import event_outcomes_pb2 as pb
from autentikapp.v1 import event_outcomes_pb2_grpc
from cli.main import main as cli
from common import db, grpc_tls
from common.grpc_server import create_server
from processor import outcome_api, outcomes
from processor.outcomes import MIGRATIONS, EventOutcome, LineItemOutcome

BASE = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)


def item(index: int, outcome: str, code: str = "") -> LineItemOutcome:
    return LineItemOutcome(index, code or (f"C-{index}" if outcome != outcomes.SKIPPED else ""), f"SKU-{index}",
                           outcome)


# (event id, tenant, status, transaction id, event type, line item outcomes, minutes after BASE).
# evt-05 and evt-06 share their time: the event id breaks the tie (descending).
ROWS = [
    ("evt-01", "t1", outcomes.PROCESSED, "FACT-1", outcomes.SALE, [outcomes.ASSIGNED, outcomes.SKIPPED], 1),
    ("evt-02", "t1", outcomes.PROCESSED, "FACT-2", outcomes.SALE, [outcomes.CONFLICT], 2),
    ("evt-03", "t1", outcomes.PROCESSED, "FACT-1", outcomes.REFUND, [outcomes.RELEASED], 3),
    ("evt-04", "t1", outcomes.DEAD_LETTERED, "FACT-3", outcomes.SALE, [], 4),
    ("evt-05", "t1", outcomes.PROCESSED, "FACT-4", outcomes.SALE, [outcomes.ASSIGNED, outcomes.CONFLICT], 5),
    ("evt-06", "t1", outcomes.PROCESSED, "FACT-1", outcomes.VOID, [outcomes.NOT_HELD], 5),
    ("evt-07", "t1", outcomes.PROCESSED, None, None, [outcomes.UNKNOWN_CODE], 7),  # recorded before migration 003
    ("evt-08", "t2", outcomes.PROCESSED, "FACT-1", outcomes.SALE, [outcomes.CONFLICT], 8),  # another tenant's
]
NEWEST_FIRST = ["evt-07", "evt-06", "evt-05", "evt-04", "evt-03", "evt-02", "evt-01"]


def seed(url: str) -> None:
    """Record ROWS as the processor does, then date them (processed_at is the write's time otherwise)."""
    batch = [EventOutcome(event_id, tenant, status, deliveries=1, transaction_id=transaction, event_type=kind,
                          line_items=[item(i, o) for i, o in enumerate(items)],
                          reason="UpsertCustomer failed: INVALID_ARGUMENT" if status == outcomes.DEAD_LETTERED else None)
             for event_id, tenant, status, transaction, kind, items, _ in ROWS]

    async def write() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await outcomes.record_many(conn, batch)

    asyncio.run(write())
    with psycopg.connect(url, autocommit=True) as conn:
        for event_id, *_, minutes in ROWS:
            at = BASE + timedelta(minutes=minutes)
            conn.execute("UPDATE event_outcomes SET processed_at = %s, first_processed_at = %s WHERE event_id = %s",
                         (at, at, event_id))


class OutcomeServer:
    """The processor's EventOutcomeService on a real gRPC server (its own event loop in a thread), over
    mutual TLS with the processor's certificate, exactly as processor.runner.start_api builds it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _start(self) -> None:
        self.pool = await db.open_pool(self.url, min_size=1, max_size=4)
        self.server, self.port, _ = await create_server([outcome_api.registration(self.pool, 2)], "127.0.0.1:0",
                                                        tls_files(grpc_tls.PROCESSOR))

    async def _stop(self) -> None:
        await self.server.stop(1)
        await self.pool.close()

    def __enter__(self) -> "OutcomeServer":
        self.thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc) -> None:
        self._call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def url(database_factory) -> str:
    url = database_factory("processor", MIGRATIONS)
    seed(url)
    return url


@pytest.fixture
def server(url) -> Iterator[OutcomeServer]:
    with OutcomeServer(url) as running:
        yield running


def stub_as(server: OutcomeServer, role: str | None):
    """A stub calling as the holder of `role`'s certificate (None: TLS without a client certificate)."""
    address = f"127.0.0.1:{server.port}"
    if role is None:
        ca = tls_files(grpc_tls.OPERATOR).ca.read_bytes()
        channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=ca))
    else:
        channel = grpc_tls.channel(address, tls_files(role))
    return event_outcomes_pb2_grpc.EventOutcomeServiceStub(channel), channel


@pytest.fixture
def dashboard(server) -> Iterator[event_outcomes_pb2_grpc.EventOutcomeServiceStub]:
    stub, channel = stub_as(server, grpc_tls.DASHBOARD)
    with channel:
        yield stub


def listed(stub, **request) -> pb.ListEventOutcomesResponse:
    return stub.ListEventOutcomes(pb.ListEventOutcomesRequest(**{"tenant_id": "t1", **request}), timeout=10)


def event_ids(response: pb.ListEventOutcomesResponse) -> list[str]:
    return [o.event_id for o in response.outcomes]


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def test_the_listing_is_the_tenants_outcomes_newest_processed_first(dashboard):
    answer = listed(dashboard)
    assert event_ids(answer) == NEWEST_FIRST and answer.next_page_token == ""
    sale = next(o for o in answer.outcomes if o.event_id == "evt-05")
    assert (sale.tenant_id, sale.status, sale.transaction_id, sale.event_type, sale.deliveries) == (
        "t1", "processed", "FACT-4", "transaction.created", 1)
    assert [(i.index, i.code, i.product_sku, i.outcome) for i in sale.line_items] == [
        (0, "C-0", "SKU-0", "assigned"), (1, "C-1", "SKU-1", "conflict")]
    assert sale.processed_at.ToDatetime(tzinfo=timezone.utc) == BASE + timedelta(minutes=5)
    assert sale.first_processed_at.ToDatetime(tzinfo=timezone.utc) == BASE + timedelta(minutes=5)
    older = next(o for o in answer.outcomes if o.event_id == "evt-07")
    assert (older.transaction_id, older.event_type) == ("", ""), "recorded before they were kept"
    dead = next(o for o in answer.outcomes if o.event_id == "evt-04")
    assert (dead.status, dead.reason) == ("dead_lettered", "UpsertCustomer failed: INVALID_ARGUMENT")


@pytest.mark.parametrize("request_filter, expected", [
    ({"status": "dead_lettered"}, ["evt-04"]),
    ({"status": "processed"}, [e for e in NEWEST_FIRST if e != "evt-04"]),
    ({"line_item_outcome": "conflict"}, ["evt-05", "evt-02"]),
    ({"line_item_outcome": "released"}, ["evt-03"]),
    ({"line_item_outcome": "unidentified_buyer"}, []),
    ({"transaction_id": "FACT-1"}, ["evt-06", "evt-03", "evt-01"]),  # its sale, its refund, its void
    ({"transaction_id": "FACT-9"}, []),
    ({"transaction_id": "FACT-1", "line_item_outcome": "assigned", "status": "processed"}, ["evt-01"]),
])
def test_each_filter_keeps_the_order_and_only_the_tenants_events(dashboard, request_filter, expected):
    assert event_ids(listed(dashboard, **request_filter)) == expected


def test_pages_follow_each_other_to_the_end_with_the_filters(dashboard):
    seen, token, pages = [], "", 0
    while True:
        page = listed(dashboard, page_size=2, page_token=token)
        assert len(page.outcomes) <= 2
        seen += event_ids(page)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == NEWEST_FIRST and pages == 4, "the tie at minute 5 is split across pages without a loss"

    first = listed(dashboard, transaction_id="FACT-1", page_size=2)
    rest = listed(dashboard, transaction_id="FACT-1", page_size=2, page_token=first.next_page_token)
    assert (event_ids(first), event_ids(rest), rest.next_page_token) == (["evt-06", "evt-03"], ["evt-01"], "")
    exact = listed(dashboard, page_size=7)
    assert len(exact.outcomes) == 7 and exact.next_page_token == "", "no empty last page"


def test_a_token_is_refused_with_other_filters_another_tenant_or_when_it_is_not_ours(dashboard):
    token = listed(dashboard, status="processed", page_size=2).next_page_token
    assert token
    for wrong in ({"tenant_id": "t2", "status": "processed"}, {"status": "dead_lettered"}, {},
                  {"status": "processed", "line_item_outcome": "assigned"},
                  {"status": "processed", "transaction_id": "FACT-1"}):
        error = refused(lambda: listed(dashboard, page_size=2, page_token=token, **wrong))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "page_token was issued for another tenant or filter" in error.details()
    assert event_ids(listed(dashboard, status="processed", page_size=2, page_token=token)) == ["evt-05", "evt-03"]
    for garbage in ("garbage", "eyJzIjoxfQ", token[:-4]):
        assert refused(lambda: listed(dashboard, page_token=garbage)).code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("request_fields, field, says", [
    ({"page_size": 201}, "page_size", "between 1 and 200"),
    ({"page_size": -1}, "page_size", "between 1 and 200"),
    ({"status": "done"}, "status", "processed, dead_lettered"),
    ({"line_item_outcome": "lost"}, "line_item_outcome",
     "assigned, already_assigned, conflict, unknown_code, skipped, unidentified_buyer, released, not_held"),
    ({"transaction_id": "T" * 129}, "transaction_id", "at most 128"),
    ({"tenant_id": ""}, "tenant_id", "tenant_id is required"),
    ({"tenant_id": "no/such"}, "tenant_id", "tenant_id must be"),
])
def test_a_malformed_request_is_invalid_argument_naming_the_field(dashboard, request_fields, field, says):
    error = refused(lambda: listed(dashboard, **request_fields))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in error.details() and says in error.details()


def test_page_size_defaults_to_50_and_goes_up_to_200(url, dashboard):
    many = [EventOutcome(f"evt-many-{i:03d}", "t3", outcomes.PROCESSED, deliveries=1, transaction_id=f"T-{i}",
                         event_type=outcomes.SALE) for i in range(201)]

    async def write() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await outcomes.record_many(conn, many)

    asyncio.run(write())
    default = listed(dashboard, tenant_id="t3")
    assert len(default.outcomes) == 50 and default.next_page_token
    largest = listed(dashboard, tenant_id="t3", page_size=200)
    assert len(largest.outcomes) == 200 and largest.next_page_token
    last = listed(dashboard, tenant_id="t3", page_size=200, page_token=largest.next_page_token)
    assert len(last.outcomes) == 1 and last.next_page_token == ""
    assert set(event_ids(largest)) | set(event_ids(last)) == {o.event_id for o in many}


def test_get_answers_the_tenants_own_event_and_not_found_for_anothers(dashboard):
    got = dashboard.GetEventOutcome(pb.GetEventOutcomeRequest(tenant_id="t1", event_id="evt-03"), timeout=10).outcome
    assert (got.event_id, got.transaction_id, got.event_type, [i.outcome for i in got.line_items]) == (
        "evt-03", "FACT-1", "transaction.refunded", ["released"])
    for tenant, event_id in (("t1", "evt-08"), ("t2", "evt-03"), ("t1", "evt-nope")):
        error = refused(lambda: dashboard.GetEventOutcome(pb.GetEventOutcomeRequest(tenant_id=tenant, event_id=event_id),
                                                          timeout=10))
        assert error.code() == grpc.StatusCode.NOT_FOUND, (tenant, event_id)
    other = dashboard.GetEventOutcome(pb.GetEventOutcomeRequest(tenant_id="t2", event_id="evt-08"), timeout=10)
    assert other.outcome.tenant_id == "t2"
    for missing in (pb.GetEventOutcomeRequest(tenant_id="t1"), pb.GetEventOutcomeRequest(event_id="evt-03"),
                    pb.GetEventOutcomeRequest(tenant_id="t1", event_id="evt 03")):
        assert refused(lambda: dashboard.GetEventOutcome(missing, timeout=10)).code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("role, expected", [
    (grpc_tls.DASHBOARD, grpc.StatusCode.OK),
    (grpc_tls.OPERATOR, grpc.StatusCode.OK),
    (grpc_tls.PROCESSOR, grpc.StatusCode.PERMISSION_DENIED),
    ("customer-service", grpc.StatusCode.PERMISSION_DENIED),  # a service's certificate names no role
])
def test_dashboards_and_operators_may_read_and_nobody_else(server, role, expected):
    stub, channel = stub_as(server, role)
    with channel:
        for call in (lambda: stub.ListEventOutcomes(pb.ListEventOutcomesRequest(tenant_id="t1"), timeout=10),
                     lambda: stub.GetEventOutcome(pb.GetEventOutcomeRequest(tenant_id="t1", event_id="evt-01"),
                                                  timeout=10)):
            if expected == grpc.StatusCode.OK:
                call()
            else:
                error = refused(call)
                assert error.code() == expected and "allowed: dashboard, operator" in error.details()


def test_a_caller_without_a_certificate_fails_the_handshake(server):
    stub, channel = stub_as(server, None)
    with channel:
        error = refused(lambda: stub.ListEventOutcomes(pb.ListEventOutcomesRequest(tenant_id="t1"), timeout=10))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as plain:
        stub = event_outcomes_pb2_grpc.EventOutcomeServiceStub(plain)
        error = refused(lambda: stub.ListEventOutcomes(pb.ListEventOutcomesRequest(tenant_id="t1"), timeout=10))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_the_migration_adds_the_columns_and_the_indexes_the_listing_uses(url):
    with psycopg.connect(url) as conn:
        columns = {row[0]: row[1] for row in conn.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = 'event_outcomes'")}
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'event_outcomes'")}
        conn.execute("SET enable_seqscan = off")  # a tiny table: ask whether the index can serve, not whether it pays
        # The expression processor/outcomes.py filters with is the one indexed (no other index can serve it).
        condition = outcomes._LINE_ITEM_OUTCOMES.as_string(conn)
        plan = "\n".join(row[0] for row in conn.execute(
            f"EXPLAIN SELECT event_id FROM event_outcomes WHERE {condition} @> '[\"conflict\"]'"))
    assert columns["transaction_id"] == columns["event_type"] == "YES"
    assert {"event_outcomes_tenant_listing", "event_outcomes_tenant_transaction", "event_outcomes_tenant_dead_lettered",
            "event_outcomes_line_item_outcomes"} <= indexes
    assert "event_outcomes_tenant_processed" not in indexes, "replaced by the listing's index"
    assert "event_outcomes_line_item_outcomes" in plan, plan


def test_events_show_prints_the_transaction_and_the_type(url, monkeypatch, capsys):
    monkeypatch.setenv("PROCESSOR_DATABASE_URL", url)
    assert cli(["--json", "events", "show", "evt-03"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["transaction_id"], shown["event_type"], shown["status"]) == (
        "FACT-1", "transaction.refunded", "processed")
    assert cli(["--json", "events", "show", "evt-07"]) == 0
    assert json.loads(capsys.readouterr().out)["transaction_id"] is None


def test_a_dead_letter_that_does_not_know_its_transaction_keeps_the_one_recorded_before(url):
    async def write() -> EventOutcome:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await outcomes.record(conn, EventOutcome("evt-01", "t1", outcomes.DEAD_LETTERED, 3, reason="x"))
            return await outcomes.get(conn, "evt-01")

    stored = asyncio.run(write())
    assert (stored.status, stored.transaction_id, stored.event_type) == ("dead_lettered", "FACT-1", "transaction.created")
