"""The processor's memory is bounded by the bytes it holds, not by the number of messages.

Maximum-size sales (a 512 KiB body, the gateway's cap, carrying 500 line items with the longest
values the payload rules allow, so the work message holds the raw body plus the largest parsed sale)
are published while the customers table is locked: every sale the processor fetches waits, in hand,
so the fetch loop fills up to its in-flight budget (PROCESSOR_MAX_IN_FLIGHT_BYTES, its default unless
FAULTS_MEMORY_BUDGET says otherwise) and must stop there. Then the lock is released and everything
drains. Checked:

(a) the bytes in flight, read from the processor's metrics, never exceeded the budget plus one message
    (the peak gauge), and the rest of the sales waited in the stream meanwhile;
(b) the processor's peak RSS (VmHWM in /proc) stayed under the memory limit of
    deploy/k8s/base/processor.yaml;
(c) every sale was processed once released, nothing dead-lettered.

The test prints what it measured: base RSS, peak RSS, peak in-flight bytes and the overhead per
in-flight byte, the figures docs/design.md "Memory" sizes the budget and the limits with. To measure
with another budget (more events by default, since three budgets' worth are sent):
    FAULTS_MEMORY_BUDGET=134217728 .venv/bin/python -m pytest -s tests/faults/test_processor_memory_bound.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import nats
import psycopg
import pytest
import yaml

from autentikapp.v1 import events_pb2, identifier_pb2
from common import bus, limits, work_message
from gateway import payload
from gateway.settings import DEFAULT_MAX_BODY_BYTES
from processor.settings import DEFAULT_MAX_IN_FLIGHT_BYTES
from system_support import wait_for

ROOT = Path(__file__).resolve().parents[2]
TENANT = "bigsales"
BUDGET = int(os.environ.get("FAULTS_MEMORY_BUDGET", DEFAULT_MAX_IN_FLIGHT_BYTES))
REGISTER_CHUNK = 10_000  # codes per RegisterIdentifiers call (gRPC's 4 MB message cap)
_QUANTITY = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "": 1}


def manifest_memory_limit() -> int:
    """The processor container's memory limit in deploy/k8s/base/processor.yaml, in bytes."""
    documents = yaml.safe_load_all((ROOT / "deploy/k8s/base/processor.yaml").read_text())
    deployment = next(d for d in documents if d and d["kind"] == "Deployment")
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "processor")
    number, unit = re.fullmatch(r"(\d+)([KMG]i?)?", str(container["resources"]["limits"]["memory"])).groups()
    return int(number) * _QUANTITY[unit or ""]


def max_size_sale(n: int, received: datetime) -> events_pb2.WebhookEvent:
    """Sale `n` as the gateway publishes it: a body of exactly the gateway's maximum size, whose 500 line
    items carry the longest SKU, product name (two-byte characters) and code the payload rules accept;
    an extra field (accepted and ignored) pads it to the cap."""
    items = [{"product_sku": f"S{n}-{i}-".ljust(limits.MAX_SKU, "s"), "product_name": "Ñ" * limits.MAX_PRODUCT_NAME,
              "quantity": 1, "unit_price": 1, "autentikapp_code": code(n, i)}
             for i in range(limits.MAX_LINE_ITEMS)]
    document = {"event_type": "transaction.created", "event_timestamp": "2025-09-13T12:00:00Z",
                "customer_data": {"email": f"buyer{n}@big-sales.co", "first_name": "Big", "last_name": f"Buyer{n}"},
                "transaction_data": {"transaction_id": f"BIG-{n}", "currency": "COP", "total_amount": 500,
                                     "line_items": items},
                "notes": ""}
    document["notes"] = "x" * (DEFAULT_MAX_BODY_BYTES - len(json.dumps(document, ensure_ascii=False).encode()))
    raw = json.dumps(document, ensure_ascii=False).encode()
    assert len(raw) == DEFAULT_MAX_BODY_BYTES
    return payload.build_event(TENANT, payload.parse_sale(json.loads(raw), received), raw, received)


def code(n: int, i: int) -> str:
    return f"M{n:05d}-{i:03d}-".ljust(limits.MAX_CODE, "c")


async def _publish(nats_url: str, events: list[events_pb2.WebhookEvent]) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for event in events:
            await js.publish(bus.subject_for(TENANT), event.SerializeToString(),
                             headers=work_message.headers(event.event_id, event.tenant_id))
    finally:
        await nc.close()


async def _consumer_state(nats_url: str) -> tuple[int, int]:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(bus.STREAM, bus.CONSUMER)
        return info.num_pending, info.num_ack_pending
    finally:
        await nc.close()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def processed(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM event_outcomes GROUP BY status").fetchall())


MiB = 1024 * 1024


@pytest.mark.timeout(600)
def test_maximum_size_sales_fill_the_byte_budget_not_the_memory(rig):
    sut = rig.sut
    limit = manifest_memory_limit()
    received = datetime.now(timezone.utc)
    message_size = len(max_size_sale(0, received).SerializeToString())
    events_count = max(3 * BUDGET // message_size, 60)  # three budgets' worth: most must wait in the stream
    events = [max_size_sale(n, received) for n in range(1, events_count + 1)]
    stub = sut.stub("identifier_service")
    codes = [code(n, i) for n in range(1, events_count + 1) for i in range(limits.MAX_LINE_ITEMS)]
    for start in range(0, len(codes), REGISTER_CHUNK):
        stub.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(
            tenant_id=TENANT, codes=codes[start:start + REGISTER_CHUNK]), timeout=120)

    # The processor of this test: the budget under test, and calls that wait for the lock as long as
    # it is held (the default deadline would turn the wait into retries).
    sut.stop("processor")
    sut.env.update({"PROCESSOR_MAX_IN_FLIGHT_BYTES": str(BUDGET), "PROCESSOR_RPC_TIMEOUT_SECONDS": "600"})
    sut.start("processor")
    pid = sut.group["processor"].pid
    in_flight = lambda: sut.scrape("processor")  # noqa: E731
    wait_for(lambda: ("autentikapp_processor_in_flight_bytes", frozenset()) in in_flight(),
             what="the processor's metrics")
    base_rss = proc_status(pid)["VmRSS"]

    outcomes_url = sut.env["PROCESSOR_DATABASE_URL"]
    with psycopg.connect(sut.env["CUSTOMER_SERVICE_DATABASE_URL"]) as locker:
        locker.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")  # held until the commit below
        asyncio.run(_publish(sut.nats.url, events))

        def stopped_fetching():
            """The loop holds the whole budget (or every event) and so fetches nothing more."""
            metrics = in_flight()
            held = metrics[("autentikapp_processor_in_flight_bytes", frozenset())]
            messages = metrics[("autentikapp_processor_in_flight_messages", frozenset())]
            return (held >= BUDGET or messages == events_count) and (held, int(messages))

        held, messages = wait_for(stopped_fetching, timeout=120, what="the fetch loop to fill its budget")
        pending, ack_pending = asyncio.run(_consumer_state(sut.nats.url))
        assert ack_pending == messages, "what JetStream delivered is what the processor holds"
        assert pending == events_count - messages > 0, "the rest waits in the stream"
        assert held < BUDGET + message_size
        assert not processed(outcomes_url), "nothing gets through while the customers table is locked"
        held_rss = proc_status(pid)["VmRSS"]
        locker.commit()

    wait_for(lambda: processed(outcomes_url).get("processed") == events_count, timeout=480,
             interval=0.5, what=f"all {events_count} sales to be processed")
    metrics = in_flight()
    peak_bytes = metrics[("autentikapp_processor_in_flight_bytes_peak", frozenset())]
    peak_rss = proc_status(pid)["VmHWM"]
    overhead = (peak_rss - base_rss) / peak_bytes
    print(f"\n{events_count} sales of {message_size} bytes, budget {BUDGET / MiB:.1f} MiB: held {messages} "
          f"({held / MiB:.1f} MiB), peak in flight {peak_bytes / MiB:.1f} MiB; RSS base {base_rss / MiB:.1f} MiB, "
          f"held {held_rss / MiB:.1f} MiB, peak {peak_rss / MiB:.1f} MiB; overhead {overhead:.2f} bytes of RSS per "
          f"in-flight byte (held: {(held_rss - base_rss) / held:.2f}); limit {limit / MiB:.0f} MiB")

    # (a) never more than the budget and one message in flight
    assert peak_bytes < BUDGET + message_size
    # (b) the peak RSS under the manifest's limit (sized for the default budget; another budget is a
    # measurement only)
    if BUDGET == DEFAULT_MAX_IN_FLIGHT_BYTES:
        assert peak_rss < limit, f"peak RSS {peak_rss / MiB:.1f} MiB over the {limit / MiB:.0f} MiB limit"
    # (c) every sale processed once, its codes linked, nothing dead-lettered
    assert processed(outcomes_url) == {"processed": events_count}
    with psycopg.connect(outcomes_url) as conn:
        assigned = conn.execute("SELECT count(*) FROM event_outcomes, jsonb_array_elements(line_items) item "
                                "WHERE item->>'outcome' = 'assigned'").fetchone()[0]
    assert assigned == len(codes)
    assert asyncio.run(_consumer_state(sut.nats.url)) == (0, 0)
