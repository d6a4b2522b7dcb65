"""The clustered stream, as production runs it: WEBHOOKS with 3 replicas on a 3-node JetStream cluster.

Three nats-servers form one cluster on loopback (devstack/nats_cluster.py); the gateway and the processor
get all three client URLs (NATS_URL, comma-separated) and BUS_REPLICAS=3. While signed sales flow through
the real gateway, the stream's leader is SIGKILLed: the gateway answers 503 until the two others have
elected a new leader, then every request gets 202 at the first try. Then the new leader is SIGKILLed
too: one server of three is left, no quorum, and fresh sales are answered 503, never 202. The killed
servers are started again and nothing else is done: once the stream has a leader again the 503'd sales,
sent again, get 202 at the first try, and everything drains.

At the end every sale answered 202 is processed exactly once in effect: one processed outcome each, one
customer per buyer, every code linked to its buyer once (one domain event each), nothing dead-lettered,
and the stream holds each sale once, retries and leader changes included.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import nats
import psycopg
import pytest
from system_support import System, sign, start_system, wait_for

from common import bus
from devstack.nats_cluster import LocalNatsCluster
from devstack.stack import SERVICE_DATABASES

SALES = 600  # the load the first leader is killed under
BUYERS = SALES // 3  # repeat buyers: concurrent upserts of one customer across the leader change
PROBES = 8  # fresh sales sent while there is no quorum
CONCURRENCY = 16
TENANT = "cluster"
GATEWAY_WORKERS = 2  # system_support.TEST_SETTINGS: each worker has its own NATS connection
BASE_TIME = datetime(2025, 9, 13, 12, 0, tzinfo=timezone.utc)
SENDER_RETRY_PAUSE = 0.05  # a sender's pause between a 503 and its retry (the guide says: retry)
SENDER_RETRY_BUDGET = 240.0  # a generous bound, so a broken recovery fails the test instead of hanging it


@dataclass
class ClusterRig:
    sut: System
    cluster: LocalNatsCluster


@pytest.fixture
def cluster_rig(tmp_path, database_factory):
    """A 3-node JetStream cluster, the streams with 3 replicas, and every process of the system."""
    with LocalNatsCluster(tmp_path / "nats", size=3) as cluster:
        urls = {variable: database_factory(name) for variable, name in SERVICE_DATABASES.items()}
        # As tests/faults/conftest.py: a short ack_wait (a lost ack comes back quickly) and a retry
        # budget that outlasts the outage, so slow recoveries make events wait, never dead-letter them.
        settings = {"BUS_REPLICAS": "3", "BUS_ACK_WAIT_SECONDS": "5", "GATEWAY_RATE_LIMIT_PER_SECOND": "0",
                    "BUS_MAX_DELIVER": "200", "PROCESSOR_RETRY_DELAYS": "0.2,0.5,1,2",
                    "GATEWAY_WORKERS": str(GATEWAY_WORKERS)}
        with start_system(tmp_path / "logs", cluster, urls, settings) as sut:
            yield ClusterRig(sut, cluster)


def buyer(index: int, first_name: str) -> dict:
    return {"national_id": f"20{index:08d}", "email": f"buyer{index}@clientes-cluster.co",
            "phone_number": f"+5732{index:07d}{(index + 3) % 10}", "first_name": first_name, "last_name": "Cluster"}


def sale(n: int) -> bytes:
    """Sale `n`: buyer n % BUYERS, one coded product (code K<n>) and one plain one, its own event time."""
    at = BASE_TIME + timedelta(minutes=n)
    return json.dumps({
        "event_type": "transaction.created",
        "event_timestamp": at.isoformat().replace("+00:00", "Z"),
        "customer_data": buyer(n % BUYERS, f"N{n}"),
        "transaction_data": {
            "transaction_id": f"R{n:05d}",
            "line_items": [{"product_sku": "SKU", "quantity": 1, "unit_price": 1, "autentikapp_code": f"K{n:05d}"},
                           {"product_sku": "PLAIN", "quantity": 1, "unit_price": 1}],
        },
    }).encode()


@dataclass(frozen=True)
class Attempt:
    """One request: when it was started (time.monotonic()) and what came back."""

    sale: int
    started: float
    status: str
    ended: float


class Senders:
    """Senders on keep-alive connections (one per thread) that send a sale until it is answered 202, as
    the guide tells them to; every attempt is recorded."""

    def __init__(self, port: int, secret: str):
        self.port, self.secret = port, secret
        self.local = threading.local()
        self.attempts: list[Attempt] = []  # list.append is atomic: no lock needed
        self.accepted = 0
        self.lock = threading.Lock()

    def attempt(self, n: int) -> tuple[str, str | None]:
        """Send sale `n` once: (status or "transport-error", event id of a 202)."""
        body = sale(n)
        headers = {"Content-Type": "application/json", "X-Autentikapp-Signature": sign(self.secret, body)}
        started = time.monotonic()
        try:
            response = self._post(body, headers)
            answer = json.loads(response.read() or b"null")
            status = str(response.status)
        except (OSError, http.client.HTTPException, ValueError):
            self.local.conn = None
            status, answer = "transport-error", None
        self.attempts.append(Attempt(n, started, status, time.monotonic()))
        if status == "202":
            assert answer["status"] == "accepted", answer
            return status, answer["event_id"]
        return status, None

    def _post(self, body: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
        """POST on this thread's kept-alive connection; when the gateway had closed it meanwhile (idle
        longer than its keep-alive), once more on a new one, as HTTP clients do with pooled connections."""
        kept = getattr(self.local, "conn", None)
        if kept is not None:
            try:
                kept.request("POST", f"/v1/webhooks/inbound/{TENANT}", body=body, headers=headers)
                return kept.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                kept.close()
        self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.local.conn.request("POST", f"/v1/webhooks/inbound/{TENANT}", body=body, headers=headers)
        return self.local.conn.getresponse()

    def send_until_accepted(self, n: int) -> str:
        """Send sale `n` until it is answered 202; return its event id."""
        deadline = time.monotonic() + SENDER_RETRY_BUDGET
        while True:
            status, event_id = self.attempt(n)
            if status == "202":
                with self.lock:
                    self.accepted += 1
                return event_id
            if time.monotonic() > deadline:
                raise AssertionError(f"sale {n} not accepted within {SENDER_RETRY_BUDGET:g}s (last answer {status})")
            time.sleep(SENDER_RETRY_PAUSE)


def clients_named(cluster: LocalNatsCluster, name: str) -> int:
    """How many client connections called `name` the running servers hold."""
    total = 0
    for node in cluster.running():
        status, connz = node.monitor("/connz?limit=1024")
        if status == 200:
            total += sum(1 for conn in connz.get("connections") or [] if conn.get("name") == name)
    return total


def reconnected(cluster: LocalNatsCluster) -> bool:
    """Every gateway worker and the processor are connected to a running server."""
    return clients_named(cluster, "gateway") == GATEWAY_WORKERS and clients_named(cluster, "processor") == 1


def bus_facts(url: str) -> dict:
    """What the streams and the consumer hold, asked through any running server."""

    async def read() -> dict:
        nc = await nats.connect(servers=url.split(","), connect_timeout=2, max_reconnect_attempts=2)
        js = nc.jetstream()
        try:
            stream = await js.stream_info(bus.STREAM)
            consumer = await js.consumer_info(bus.STREAM, bus.CONSUMER)
            return {"messages": stream.state.messages,
                    "stream_replicas": stream.config.num_replicas,
                    "stream_peers": 1 + len(stream.cluster.replicas or []),
                    "consumer_peers": 1 + len(consumer.cluster.replicas or []),
                    "pending": consumer.num_pending, "ack_pending": consumer.num_ack_pending,
                    "dead_letters": (await js.stream_info(bus.DEAD_LETTER_STREAM)).state.messages,
                    "domain_events": (await js.stream_info(bus.DOMAIN_STREAM)).state.messages}
        finally:
            await nc.close()

    return asyncio.run(read())


def processed(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM event_outcomes WHERE status = 'processed'")}


@pytest.mark.timeout(360)
def test_acknowledged_sales_survive_the_loss_of_the_stream_leader_and_then_of_quorum(cluster_rig):
    sut, cluster = cluster_rig.sut, cluster_rig.cluster
    facts = wait_for(lambda: bus_facts(cluster.url), timeout=60, what="the streams and the consumer")
    assert (facts["stream_replicas"], facts["stream_peers"], facts["consumer_peers"]) == (3, 3, 3), facts
    secret = sut.cli("tenants", "create", "--name", "Cluster", "--id", TENANT)["secret"]
    sut.cli("identifiers", "register", "--tenant", TENANT, *(f"K{n:05d}" for n in range(SALES + PROBES)))
    senders = Senders(sut.ports["gateway"], secret)
    timeline: list[str] = []
    began = time.monotonic()

    def note(what: str) -> float:
        now = time.monotonic()
        timeline.append(f"{what} ({now - began:.1f}s)")
        return now

    # Servers are started with a parent-death signal tied to the thread that starts them: every kill and
    # start happens here, on the main thread; the senders are the pool's threads.
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        # 1. The stream's leader dies under load; the two others keep quorum and elect a new leader.
        pending = pool.map(senders.send_until_accepted, range(SALES))
        wait_for(lambda: senders.accepted >= SALES // 4, timeout=120, interval=0.01, what="a quarter of the load")
        first = cluster.wait_for_stream_leader(bus.STREAM, timeout=60)
        healthy_until = time.monotonic()
        first.kill()
        note(f"SIGKILL leader {first.name} at {senders.accepted} accepted")
        second = cluster.wait_for_stream_leader(bus.STREAM, timeout=120)
        note(f"{second.name} leads")
        wait_for(lambda: reconnected(cluster), timeout=120, interval=0.05, what="gateway and processor reconnected")
        recovered = note(f"gateway and processor reconnected at {senders.accepted} accepted")
        accepted = dict(zip(range(SALES), pending))
        note("load accepted")

        # 2. Then the new leader dies too: one server of three, no quorum. Fresh sales: 503, never 202.
        second.kill()
        note(f"SIGKILL leader {second.name}: no quorum")
        probes = range(SALES, SALES + PROBES)
        outage_answers = [status for status, _ in pool.map(senders.attempt, probes)]
        note(f"{PROBES} fresh sales answered {sorted(set(outage_answers))}")

        # 3. The killed servers start again, and nothing else is done: the sales answered 503, sent again,
        #    get 202.
        first.start()
        note(f"{first.name} started")
        cluster.wait_for_stream_leader(bus.STREAM, timeout=120)
        wait_for(lambda: reconnected(cluster), timeout=120, interval=0.05, what="gateway and processor reconnected")
        quorum_back = note("the stream has a leader again, gateway and processor connected")
        accepted.update(zip(probes, pool.map(senders.send_until_accepted, probes)))
        note("503'd sales accepted")
        second.start()
        cluster.wait_until_current(timeout=120)
        note(f"{second.name} started, every server current")

    # The answers: only 202, 503 or a transport error; 503 only while the stream had no leader (its
    # election after the leader's death, then the loss of quorum) or a gateway worker was reconnecting.
    statuses: dict[str, int] = {}
    for attempt in senders.attempts:
        statuses[attempt.status] = statuses.get(attempt.status, 0) + 1
    refused_while_electing = sum(1 for a in senders.attempts if a.status != "202" and a.started < recovered)
    print(f"\nanswers (with retries): {statuses}, {refused_while_electing} of the refusals before the new leader "
          "took publishes\ntimeline: " + "; ".join(timeline))
    assert set(statuses) <= {"202", "503", "transport-error"}, statuses
    assert {a.status for a in senders.attempts if a.ended < healthy_until} == {"202"}, "no refusal before the fault"
    assert refused_while_electing, "the leader's death met requests"
    after_recovery = [a for a in senders.attempts if recovered <= a.started and a.sale < SALES]
    assert after_recovery, "the load went on with the new leader"
    assert {a.status for a in after_recovery} == {"202"}, \
        "with a new leader and quorum, every request is accepted at the first try"
    assert set(outage_answers) == {"503"}, f"without quorum every fresh sale is answered 503: {outage_answers}"
    assert {a.status for a in senders.attempts if a.started >= quorum_back and a.sale >= SALES} == {"202"}, \
        "once quorum is back, every sale is accepted at the first try"

    # Every sale answered 202 is processed, exactly once in effect.
    assert len(set(accepted.values())) == SALES + PROBES
    outcomes_url = sut.env["PROCESSOR_DATABASE_URL"]
    wait_for(lambda: set(accepted.values()) <= processed(outcomes_url), timeout=180, interval=0.5,
             what="every accepted sale processed")
    with psycopg.connect(outcomes_url) as conn:
        by_status = dict(conn.execute("SELECT status, count(*) FROM event_outcomes GROUP BY status").fetchall())
        line_outcomes = dict(conn.execute(
            "SELECT item->>'outcome', count(*) FROM event_outcomes, jsonb_array_elements(line_items) item "
            "GROUP BY 1").fetchall())
    assert by_status == {"processed": SALES + PROBES}
    assert line_outcomes == {"assigned": SALES + PROBES, "skipped": SALES + PROBES}, "no code recorded twice or lost"

    with psycopg.connect(sut.env["CUSTOMER_SERVICE_DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT id::text, email, first_name FROM customers WHERE tenant_id = %s",
                            (TENANT,)).fetchall()
    customer_of = {email: (customer_id, first_name) for customer_id, email, first_name in rows}
    assert len(rows) == len(customer_of) == BUYERS, "one customer per buyer: none duplicated, none missing"
    newest = {who: max(n for n in accepted if n % BUYERS == who) for who in range(BUYERS)}
    assert {email: first for email, (_, first) in customer_of.items()} == \
        {f"buyer{who}@clientes-cluster.co": f"N{n}" for who, n in newest.items()}, "each customer as its newest sale"

    with psycopg.connect(sut.env["IDENTIFIER_SERVICE_DATABASE_URL"]) as conn:
        links = dict(conn.execute("SELECT code, customer_id::text FROM identifiers WHERE tenant_id = %s",
                                  (TENANT,)).fetchall())
    assert links == {f"K{n:05d}": customer_of[f"buyer{n % BUYERS}@clientes-cluster.co"][0] for n in accepted}

    def drained() -> dict | None:
        facts = bus_facts(cluster.url)
        return facts if facts["pending"] == facts["ack_pending"] == 0 else None

    facts = wait_for(drained, timeout=60, what="the consumer drained")
    assert facts["messages"] == SALES + PROBES, f"each sale stored once, retries and leader changes included: {facts}"
    assert facts["dead_letters"] == 0, facts
    assert facts["domain_events"] == SALES + PROBES, f"each link is one domain event: {facts}"
