"""The processor's outcomes store on real Postgres: its migration, the idempotent upsert, and
`autentikapp events show` reading it."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest

from cli.main import main as cli
from common import migrations
from processor import outcomes
from processor.outcomes import MIGRATIONS, EventOutcome, LineItemOutcome

CUSTOMER = "9b2f0a4e-64c1-4c36-9a56-3f0c1d1e2a7b"


def record(url: str, outcome: EventOutcome) -> EventOutcome:
    async def write():
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await outcomes.record(conn, outcome)
        return outcome

    return asyncio.run(write())


def processed(**changes) -> EventOutcome:
    values = dict(event_id="evt-1", tenant_id="t1", status=outcomes.PROCESSED, deliveries=1, customer_id=CUSTOMER,
                  customer_created=True, clashes=[{"field": "email", "other_customer_id": "c-9"}],
                  line_items=[LineItemOutcome(0, "", "PLAIN", "skipped"), LineItemOutcome(1, "A-1", "S1", "assigned")])
    values.update(changes)
    return EventOutcome(**values)


@pytest.fixture
def url(database_factory) -> str:
    return database_factory("processor", MIGRATIONS)


def test_the_migration_builds_the_table_and_rerunning_it_is_a_noop(database_factory):
    url = database_factory("processor")
    assert [m.name for m in migrations.apply(url, MIGRATIONS)] == ["event_outcomes", "ignored_identity", "outcome_listing"]
    assert migrations.apply(url, MIGRATIONS) == []
    with psycopg.connect(url) as conn:
        columns = {row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'event_outcomes'")}
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO event_outcomes (event_id, tenant_id, status, deliveries) VALUES ('e', 't', 'x', 1)")
    assert columns == {"event_id", "tenant_id", "status", "customer_id", "customer_created", "clashes", "line_items",
                       "reason", "deliveries", "first_processed_at", "processed_at", "ignored_identity",
                       "transaction_id", "event_type"}


def test_recording_again_rewrites_the_row_and_keeps_when_it_was_first_processed(url):
    first = record(url, processed())
    again = record(url, processed(customer_created=False, deliveries=2))
    stored = asyncio.run(outcomes.read(url, "evt-1"))
    assert stored.first_processed_at == first.first_processed_at == again.first_processed_at
    assert stored.processed_at == again.processed_at >= first.processed_at
    assert stored.customer_created is True, "a redelivery finds the customer the first delivery created"
    assert (stored.deliveries, stored.line_items, stored.clashes) == (2, processed().line_items, processed().clashes)
    assert asyncio.run(outcomes.read(url, "evt-unknown")) is None

    record(url, processed(status=outcomes.DEAD_LETTERED, customer_id=None, customer_created=False, clashes=[],
                          line_items=[], reason="UpsertCustomer failed: INVALID_ARGUMENT"))
    dead = asyncio.run(outcomes.read(url, "evt-1"))
    assert (dead.status, dead.customer_id, dead.customer_created, dead.reason) == (
        "dead_lettered", None, False, "UpsertCustomer failed: INVALID_ARGUMENT")


def test_events_show_prints_the_outcome_as_json_and_as_text(url, monkeypatch, capsys):
    monkeypatch.setenv("PROCESSOR_DATABASE_URL", url)
    record(url, processed())

    assert cli(["--json", "events", "show", "evt-1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "processed" and shown["customer_id"] == CUSTOMER
    assert shown["line_items"] == [{"index": 0, "code": "", "product_sku": "PLAIN", "outcome": "skipped"},
                                   {"index": 1, "code": "A-1", "product_sku": "S1", "outcome": "assigned"}]
    assert shown["first_processed_at"].endswith("+00:00")

    assert cli(["events", "show", "evt-1"]) == 0
    text = capsys.readouterr().out
    assert "status:" in text and "customer_created:   true" in text
    assert "index  code  product_sku  outcome" in text and "1      A-1   S1           assigned" in text


def test_events_show_for_an_unknown_event_exits_3_with_one_line(url, monkeypatch, capsys):
    monkeypatch.setenv("PROCESSOR_DATABASE_URL", url)
    assert cli(["--json", "events", "show", "evt-nope"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("autentikapp: no outcome recorded for event evt-nope (not processed yet, or unknown)\n")


def test_events_show_without_the_database_is_one_line_without_the_password(monkeypatch, capsys):
    monkeypatch.setenv("PROCESSOR_DATABASE_URL", "postgresql://u:hunter2@127.0.0.1:1/x")
    assert cli(["events", "show", "evt-1", "--timeout", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("autentikapp: the processor's database is unavailable") and "hunter2" not in err
    assert len(err.strip().splitlines()) == 1


def record_many(url: str, batch: list[EventOutcome]) -> list[EventOutcome]:
    async def write():
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await outcomes.record_many(conn, batch)
        return batch

    return asyncio.run(write())


def stored_rows(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT event_id, tenant_id, status, deliveries, customer_id::text, first_processed_at,"
                            " processed_at FROM event_outcomes").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_record_many_with_one_event_twice_keeps_the_later_outcome_and_stamps_both(url):
    """An event twice in one batch (around another event) is written twice, in order: the later outcome is
    what is stored, "created" survives the rewrite as for a redelivery, and both outcome objects get the
    timestamps of their own write (same first_processed_at, the later one processed no earlier)."""
    first = processed(deliveries=1, customer_created=True)
    other = processed(event_id="evt-2", deliveries=1)
    later = processed(deliveries=2, customer_created=False, clashes=[],
                      line_items=[LineItemOutcome(1, "A-1", "S1", "already_assigned")])
    record_many(url, [first, other, later])

    stored = asyncio.run(outcomes.read(url, "evt-1"))
    assert (stored.deliveries, stored.clashes, stored.line_items) == (2, [], later.line_items)
    assert stored.customer_created is True
    assert all(o.first_processed_at is not None and o.processed_at is not None for o in (first, other, later))
    assert first.first_processed_at == later.first_processed_at == stored.first_processed_at
    assert later.processed_at == stored.processed_at >= first.processed_at
    assert other.processed_at == asyncio.run(outcomes.read(url, "evt-2")).processed_at
    assert set(stored_rows(url)) == {"evt-1", "evt-2"}


def test_record_many_with_an_event_three_times_ends_with_the_last(url):
    """Three writes of one event in one batch (third: dead-lettered): the last one is stored."""
    batch = [processed(deliveries=1), processed(deliveries=2),
             processed(deliveries=3, status=outcomes.DEAD_LETTERED, customer_id=None, customer_created=False,
                       clashes=[], line_items=[], reason="UpsertCustomer failed: INVALID_ARGUMENT")]
    record_many(url, batch)
    stored = asyncio.run(outcomes.read(url, "evt-1"))
    assert (stored.status, stored.deliveries, stored.customer_id, stored.reason) == (
        "dead_lettered", 3, None, "UpsertCustomer failed: INVALID_ARGUMENT")
    assert all(o.processed_at is not None for o in batch)


def test_record_many_writes_many_events_each_with_its_own_data_and_timestamps(url):
    """1,200 events in one call, 400 of them recorded before: every row holds its own event's data, each
    outcome object gets its own event's stamps (the earlier ones keep their older first_processed_at,
    so stamps handed to the wrong outcome would show), and nothing else is written."""
    def outcome(i: int) -> EventOutcome:
        dead = i % 5 == 0
        return processed(event_id=f"evt-{i:04d}", tenant_id=f"t{i % 3}", deliveries=i,
                         status=outcomes.DEAD_LETTERED if dead else outcomes.PROCESSED,
                         customer_id=None if dead else CUSTOMER, customer_created=not dead,
                         reason="x" if dead else None)

    earlier = record_many(url, [outcome(i) for i in range(0, 1200, 3)])
    batch = record_many(url, [outcome(i) for i in range(1200)])

    rows = stored_rows(url)
    assert set(rows) == {f"evt-{i:04d}" for i in range(1200)}
    for i, o in enumerate(batch):
        tenant, status, deliveries, customer, first_at, processed_at = rows[o.event_id]
        assert (tenant, status, deliveries) == (f"t{i % 3}", o.status, i)
        assert customer == (None if i % 5 == 0 else CUSTOMER)
        assert (o.first_processed_at, o.processed_at) == (first_at, processed_at)
    assert all(e.first_processed_at == rows[e.event_id][4] for e in earlier)
    assert {o.first_processed_at for o in batch} == {earlier[0].first_processed_at, batch[1].first_processed_at}
    assert earlier[0].first_processed_at < batch[1].first_processed_at
