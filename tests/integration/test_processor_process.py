"""`python -m processor` as real processes: migrate, fail fast on a bad setting, replicas sharing the
durable consumer, and SIGTERM finishing the messages in hand."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from autentikapp.v1 import customer_pb2, customer_pb2_grpc
from devstack.processes import ProcessGroup
from processor_support import (
    TENANT,
    consumer_idle,
    consumer_info,
    dead_letters,
    outcome_rows,
    processor_env,
    publish,
    webhook_event,
)
from system_support import sessions_waiting_on_locks, wait_for

MODULE = [sys.executable, "-m", "processor"]
COMMAND = [*MODULE, "serve"]


def run_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m processor ARGS` (no verb given: the default, serve)."""
    return subprocess.run([*MODULE, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def log_lines(path: Path) -> list[dict]:
    """The JSON log lines a child wrote (other lines, e.g. the ProcessGroup banner, skipped)."""
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def processed_events(path: Path) -> list[str]:
    return [e["event_id"] for e in log_lines(path) if e.get("status") == "processed"]


def is_ready(path: Path):
    return lambda: path.exists() and "processor ready" in path.read_text()


@contextlib.contextmanager
def outcome_writes_held(url: str) -> Iterator[Callable[[], None]]:
    """Hold event_outcomes locked (ACCESS EXCLUSIVE, in an open transaction): every handler that reaches
    its outcome write waits there, so its message stays in hand for as long as the test wants. Yields
    `release`; the lock is released at exit in any case."""
    with psycopg.connect(url) as conn:
        conn.execute("LOCK TABLE event_outcomes IN ACCESS EXCLUSIVE MODE")  # opens the transaction
        try:
            yield conn.rollback
        finally:
            conn.rollback()


@pytest.fixture
def env(nats_server, customer_service, identifier_service, database_factory) -> dict[str, str]:
    """A processor's environment; its database is empty: the processor migrates it at start."""
    return processor_env(nats_server.url, f"127.0.0.1:{customer_service.port}",
                         f"127.0.0.1:{identifier_service.port}", database_factory("processor"), LOG_FORMAT="json")


def test_migrate_applies_once_and_a_bad_setting_is_one_line_naming_it(database_factory):
    env = {"PROCESSOR_DATABASE_URL": database_factory("processor")}
    first = run_command("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied migrations 001_event_outcomes" in first.stderr
    assert "schema is up to date" in run_command("migrate", env=env).stderr

    bad = run_command(env={**env, "PROCESSOR_CONCURRENCY": "lots"})
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "processor: configuration error: PROCESSOR_CONCURRENCY: expected an integer, got 'lots'"]


def test_two_replicas_share_the_work_and_each_event_is_processed(tmp_path, env, nats_server, customer_service):
    events = [webhook_event([("S", "")], customer={"email": f"buyer{i}@b.co"}) for i in range(60)]
    small = {**env, "PROCESSOR_BATCH_SIZE": "2", "PROCESSOR_CONCURRENCY": "2"}
    with ProcessGroup(tmp_path / "logs", grace=15) as group:
        for name in ("processor-1", "processor-2"):
            group.start(name, COMMAND, small, ready=is_ready(tmp_path / "logs" / f"{name}.log"))
        publish(nats_server.url, *events)
        wait_for(lambda: consumer_idle(nats_server.url, len(events)), what="every event settled")
        group.stop_all()
        assert [group[name].returncode for name in ("processor-1", "processor-2")] == [0, 0]

    rows = outcome_rows(env["PROCESSOR_DATABASE_URL"])
    assert sorted(rows) == sorted(e.event_id for e in events)
    assert {row["status"] for row in rows.values()} == {"processed"}
    one = processed_events(tmp_path / "logs" / "processor-1.log")
    two = processed_events(tmp_path / "logs" / "processor-2.log")
    assert one and two, f"both replicas work (processor-1: {len(one)}, processor-2: {len(two)})"
    # At-least-once: on a loaded machine an ack can come after ack_wait and the other replica redoes
    # the event (harmlessly: the outcome row above is one per event). So: every event, by someone.
    assert set(one + two) == {e.event_id for e in events}, "every event processed by a replica"
    stub = customer_pb2_grpc.CustomerServiceStub(customer_service.channel)
    listed = stub.ListCustomers(customer_pb2.ListCustomersRequest(tenant_id=TENANT, page_size=1000), timeout=10)
    assert len(listed.customers) == len(events)


def test_sigterm_finishes_the_messages_in_hand_and_the_rest_waits_for_the_next_replica(tmp_path, env, nats_server):
    events = [webhook_event([("S", "")]) for _ in range(300)]
    in_hand = 32
    # Small fetches and few in flight, so that SIGTERM finds messages in hand and others still queued. The
    # grace is only a bound for a slow machine: the work left when the lock goes is a few milliseconds.
    env = {**env, "PROCESSOR_BATCH_SIZE": "16", "PROCESSOR_CONCURRENCY": str(in_hand), "SHUTDOWN_GRACE_SECONDS": "20"}
    db_url = env["PROCESSOR_DATABASE_URL"]
    logs = tmp_path / "logs"
    with ProcessGroup(logs, grace=40) as group:
        group.start("first", COMMAND, env, ready=is_ready(logs / "first.log"))
        # The work is held, not raced: with the outcomes table locked, every message the processor takes
        # stays in hand (processed by the services, its outcome write waiting) until the test releases it.
        with ThreadPoolExecutor(1) as pool, outcome_writes_held(db_url) as release:
            publish(nats_server.url, *events)
            wait_for(lambda: consumer_info(nats_server.url).num_ack_pending == in_hand
                     and sessions_waiting_on_locks(db_url) > 0,
                     what=f"{in_hand} messages in hand, their outcome writes waiting on the lock")
            stopped = pool.submit(group.stop, "first")  # SIGTERM, then wait for the exit
            wait_for(lambda: f"stopping: finishing {in_hand} message(s) in hand" in (logs / "first.log").read_text(),
                     what="the processor to start finishing what it holds")
            release()
        assert stopped.result() == 0
        after_stop = consumer_info(nats_server.url)
        recorded = len(outcome_rows(db_url))
        first_log = (logs / "first.log").read_text()

        assert recorded == in_hand, "the messages in hand were finished, and no more were taken"
        assert after_stop.num_ack_pending == 0, "every message in hand was acked or handed back"
        assert after_stop.ack_floor.stream_seq == recorded, "and each was finished: recorded, then acked"
        assert after_stop.num_pending == len(events) - in_hand, "the rest still queued for the next replica"
        assert f"{in_hand} in-hand message(s) finished, 0 handed back" in first_log
        assert "processor stopped" in first_log

        group.start("second", COMMAND, env, ready=is_ready(logs / "second.log"))
        wait_for(lambda: consumer_idle(nats_server.url, len(events)), what="the rest, by the next replica")

    rows = outcome_rows(db_url)
    assert len(rows) == len(events) and {r["status"] for r in rows.values()} == {"processed"}
    assert dead_letters(nats_server.url) == []


def test_a_message_whose_last_attempt_crashed_ends_in_the_dead_letter_stream(tmp_path, env, nats_server, customer_db):
    """JetStream drops a message it has delivered max_deliver times. With BUS_MAX_DELIVER=2 the processor
    is SIGKILLed in the middle of both attempts (each held at the customer service, its buyer's upsert
    waiting on a lock); the delivery kept in reserve after them copies the message to the dead-letter
    stream instead of running it a third time."""
    env = {**env, "BUS_MAX_DELIVER": "2", "BUS_ACK_WAIT_SECONDS": "1", "PROCESSOR_RPC_TIMEOUT_SECONDS": "600"}
    db_url = env["PROCESSOR_DATABASE_URL"]
    logs = tmp_path / "logs"
    event = webhook_event([("S", "")])
    with ProcessGroup(logs, grace=20) as group:
        group.start("attempt-1", COMMAND, env, ready=is_ready(logs / "attempt-1.log"))
        with psycopg.connect(customer_db) as held:
            held.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")  # every upsert waits here
            publish(nats_server.url, event)
            run_attempts_and_the_reserve(group, env, customer_db, logs, nats_server)
            release = held.rollback
            [dead] = wait_for(lambda: dead_letters(nats_server.url), what="the dead letter")
            release()
        wait_for(lambda: consumer_idle(nats_server.url, 1), what="the message settled")

    assert dead.headers["Autentikapp-Event-Id"] == event.event_id
    assert dead.headers["Autentikapp-Deliveries"] == "3"
    assert "its last attempt (delivery 2) did not settle it" in dead.headers["Autentikapp-Dead-Reason"]
    assert outcome_rows(db_url)[event.event_id]["status"] == "dead_lettered"
    assert consumer_info(nats_server.url).config.max_deliver == 2 + 2, "BUS_MAX_DELIVER plus the reserve"


def run_attempts_and_the_reserve(group, env, held_db_url, logs, nats_server) -> None:
    """Kill the processor in the middle of each of the two attempts, then start the one that gets the
    reserve delivery."""
    for attempt in (1, 2):
        name = f"attempt-{attempt}"
        if attempt > 1:
            group.start(name, COMMAND, env, ready=is_ready(logs / f"{name}.log"))
        wait_for(lambda: (info := consumer_info(nats_server.url)).delivered.consumer_seq == attempt
                 and info.num_ack_pending == 1 and sessions_waiting_on_locks(held_db_url) >= 1,
                 what=f"delivery {attempt} in hand, its buyer's upsert waiting")
        group.kill(name)  # SIGKILL: no nak, no dead letter; JetStream redelivers after ack_wait
    group.start("reserve", COMMAND, env, ready=is_ready(logs / "reserve.log"))
