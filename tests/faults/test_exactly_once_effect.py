"""Guarantee 2: at-least-once delivery, exactly-once effect.

A backlog of events drains while the processor is SIGKILLed three times, each gRPC service is
restarted once and Postgres is restarted once. At the end the stored customers and links equal a
reference computed from the inputs alone: every event processed, no duplicate customer, no link moved,
nothing dead-lettered.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import nats
import psycopg
import pytest

from autentikapp.v1 import identifier_pb2
from common import bus, work_message
from gateway import payload

EVENTS = int(os.environ.get("FAULTS_EVENTS", "5000"))
BUYERS = max(EVENTS // 3, 1)  # about three sales per buyer: repeat buyers are the norm
TENANT = "chaos"
BASE_TIME = datetime(2025, 9, 13, 12, 0, tzinfo=timezone.utc)


@dataclass
class Reference:
    """What the stores must hold at the end, computed from the inputs alone."""

    owner_of_code: dict[str, int] = field(default_factory=dict)
    newest_name: dict[int, tuple[datetime, str]] = field(default_factory=dict)


def buyer(index: int, first_name: str) -> dict:
    """Buyer `index`'s customer_data: values a real buyer could have (never a filler the customer
    service ignores, such as a digit run or one digit repeated), distinct per index below 10**7."""
    return {"national_id": f"10{index:08d}", "email": f"buyer{index}@clientes-chaos.co",
            "phone_number": f"+5731{index:07d}{(index + 2) % 10}", "first_name": first_name, "last_name": "Chaos"}


def make_events(seed: int = 7) -> tuple[list, Reference]:
    """EVENTS sales as the gateway would publish them, and the reference outcome."""
    rng = random.Random(seed)
    reference = Reference()
    events = []
    received = datetime.now(timezone.utc)
    for n in range(EVENTS):
        who = rng.randrange(BUYERS)
        at = BASE_TIME + timedelta(seconds=rng.randrange(10_000_000))  # arrival order != event time order
        name = f"N{who}x{n}"
        codes = [f"C{n:05d}-{k}" for k in range(rng.randint(1, 3))]
        for code in codes:
            reference.owner_of_code[code] = who
        if who not in reference.newest_name or at >= reference.newest_name[who][0]:
            reference.newest_name[who] = (at, name)
        document = {
            "event_type": "transaction.created",
            "event_timestamp": at.isoformat().replace("+00:00", "Z"),
            "customer_data": buyer(who, name),
            "transaction_data": {
                "transaction_id": f"T{n:05d}",
                "line_items": [{"product_sku": "SKU", "quantity": 1, "unit_price": 1, "autentikapp_code": c}
                               for c in codes] + [{"product_sku": "PLAIN", "quantity": 1, "unit_price": 1}],
            },
        }
        raw = json.dumps(document).encode()
        events.append(payload.build_event(TENANT, payload.parse_sale(document, received), raw, received))
    return events, reference


async def _publish(nats_url: str, events) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        for start in range(0, len(events), 200):
            acks = [js.publish(bus.subject_for(e.tenant_id), e.SerializeToString(),
                               headers=work_message.headers(e.event_id, e.tenant_id))
                    for e in events[start:start + 200]]
            await asyncio.gather(*acks)
    finally:
        await nc.close()


async def _stream_count(nats_url: str, stream: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    finally:
        await nc.close()


def processed_count(url: str) -> int:
    """Events with a recorded outcome; -1 while the database is unreachable (it is being restarted)."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return conn.execute("SELECT count(*) FROM event_outcomes WHERE status = 'processed'").fetchone()[0]
    except psycopg.OperationalError:
        return -1


def wait_processed(url: str, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = processed_count(url)
        if done >= at_least:
            return done
        time.sleep(0.2)
    with psycopg.connect(url) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM event_outcomes GROUP BY status").fetchall())
        reasons = conn.execute("SELECT reason, count(*) FROM event_outcomes WHERE status = 'dead_lettered' "
                               "GROUP BY reason ORDER BY 2 DESC LIMIT 5").fetchall()
    raise AssertionError(f"only {statuses.get('processed', 0)} of {at_least} events processed after {timeout}s "
                         f"(outcomes by status: {statuses}; dead-letter reasons: {reasons})")


@pytest.mark.timeout(480)
def test_backlog_survives_crashes_and_restarts_with_exactly_once_effect(rig):
    sut, postgres = rig.sut, rig.postgres
    events, reference = make_events()
    codes = sorted(reference.owner_of_code)
    registered = sut.stub("identifier_service").RegisterIdentifiers(
        identifier_pb2.RegisterIdentifiersRequest(tenant_id=TENANT, codes=codes), timeout=60)
    assert registered.registered == len(codes)

    sut.stop("processor")
    asyncio.run(_publish(sut.nats.url, events))
    assert asyncio.run(_stream_count(sut.nats.url, bus.STREAM)) == EVENTS
    outcomes_url = sut.env["PROCESSOR_DATABASE_URL"]

    started = time.monotonic()
    sut.start("processor")
    chaos = [
        (0.10, "kill processor", lambda: (sut.kill("processor"), sut.start("processor"))),
        (0.25, "restart customer_service", lambda: (sut.stop("customer_service"), sut.start("customer_service"))),
        (0.40, "kill processor", lambda: (sut.kill("processor"), sut.start("processor"))),
        (0.55, "restart identifier_service", lambda: (sut.stop("identifier_service"), sut.start("identifier_service"))),
        (0.70, "restart postgres", postgres.restart),
        (0.80, "kill processor", lambda: (sut.kill("processor"), sut.start("processor"))),
    ]
    timeline = []
    for fraction, what, act in chaos:
        done = wait_processed(outcomes_url, int(EVENTS * fraction), timeout=180)
        act()
        timeline.append(f"{what} at {done} processed ({time.monotonic() - started:.1f}s)")
    wait_processed(outcomes_url, EVENTS, timeout=240)
    elapsed = time.monotonic() - started
    print(f"\n{EVENTS} events drained in {elapsed:.1f}s through: " + "; ".join(timeline))

    # Every event processed once in effect, nothing dead-lettered.
    assert asyncio.run(_stream_count(sut.nats.url, bus.DEAD_LETTER_STREAM)) == 0
    with psycopg.connect(outcomes_url) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM event_outcomes GROUP BY status").fetchall())
        outcome_counts = dict(conn.execute(
            "SELECT item->>'outcome', count(*) FROM event_outcomes, jsonb_array_elements(line_items) item "
            "GROUP BY 1").fetchall())
    assert statuses == {"processed": EVENTS}
    assert outcome_counts == {"assigned": len(codes), "skipped": EVENTS}, "no code recorded twice or lost"

    # Customers: exactly one per buyer, each with the newest data by event time.
    with psycopg.connect(sut.env["CUSTOMER_SERVICE_DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT id, email, first_name FROM customers WHERE tenant_id = %s", (TENANT,)).fetchall()
    buyers_used = set(reference.newest_name)
    customer_of = {email: (str(cid), first) for cid, email, first in rows}
    assert len(rows) == len(buyers_used), "no duplicate and no missing customer"
    for who in buyers_used:
        assert customer_of[f"buyer{who}@clientes-chaos.co"][1] == reference.newest_name[who][1]

    # Links: every code linked to its buyer, none moved.
    with psycopg.connect(sut.env["IDENTIFIER_SERVICE_DATABASE_URL"]) as conn:
        links = dict(conn.execute("SELECT code, customer_id::text FROM identifiers WHERE tenant_id = %s",
                                  (TENANT,)).fetchall())
    expected = {code: customer_of[f"buyer{who}@clientes-chaos.co"][0] for code, who in reference.owner_of_code.items()}
    assert links == expected
