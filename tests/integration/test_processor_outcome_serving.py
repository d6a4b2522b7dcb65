"""The processor serves its own outcomes (EventOutcomeService) beside its consumer, against real NATS, real
gRPC services and real Postgres: what real processing records (a sale, its refund, a void, a dead letter)
is what the dashboard reads, transaction and event type included; the server lives from start-up to the
stop; a taken port stops the process with one line."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys

import grpc
import pytest

from autentikapp.v1 import event_outcomes_pb2 as pb
from autentikapp.v1 import event_outcomes_pb2_grpc, events_pb2, identifier_pb2, identifier_pb2_grpc
from common import grpc_tls
from common.timestamps import to_timestamp
from devstack.ports import free_port
from devstack.ready import grpc_serving
from processor import outcome_api, runner
from processor_support import (
    SOLD_AT,
    TENANT,
    InProcessProcessor,
    consumer_idle,
    outcome_rows,
    publish,
    webhook_event,
)
from system_support import wait_for
from tls_support import tls_files


class ServingProcessor(InProcessProcessor):
    """The in-process processor as `serve` runs it: with the outcomes' gRPC server."""

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self._started.set()
        await runner.run(self.settings, self._stop, serve_api=True)


def release_event(transaction_id: str, *codes: str, void: bool = False) -> events_pb2.WebhookEvent:
    kind = events_pb2.Release.KIND_VOID if void else events_pb2.Release.KIND_REFUND
    return events_pb2.WebhookEvent(
        schema_version=1, event_id=f"evt-{'void' if void else 'refund'}-{transaction_id}", tenant_id=TENANT,
        raw_body=b"{}", release=events_pb2.Release(kind=kind, transaction_id=transaction_id,
                                                   refund_id="" if void else "NC-1", codes=codes,
                                                   event_timestamp=to_timestamp(SOLD_AT)))


@pytest.fixture
def serving_env(env) -> dict[str, str]:
    return {**env, "PROCESSOR_GRPC_PORT": str(free_port()), "BIND_HOST": "127.0.0.1"}


def dashboard(port: int):
    channel = grpc_tls.channel(f"127.0.0.1:{port}", tls_files(grpc_tls.DASHBOARD))
    return event_outcomes_pb2_grpc.EventOutcomeServiceStub(channel), channel


def test_what_real_processing_records_is_served_with_its_transaction_and_type(
        serving_env, identifier_service, nats_server, processor_db):
    identifiers = identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)
    identifiers.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(tenant_id=TENANT, codes=["BAG-1"]),
                                    timeout=10)
    sale = webhook_event([("BAG", "BAG-1"), ("PLAIN", "")], transaction_id="FACT-10")
    refund = release_event("FACT-10", "BAG-1")
    void = release_event("FACT-11", void=True)
    rejected = webhook_event([("BAG", "")], transaction_id="FACT-12", customer={"email": "not-an-email@"})
    port = int(serving_env["PROCESSOR_GRPC_PORT"])

    with ServingProcessor(serving_env):
        wait_for(grpc_serving(f"127.0.0.1:{port}", tls_files(grpc_tls.OPERATOR), outcome_api.SERVICE_NAME),
                 what="the outcomes' gRPC server SERVING")
        for n, event in enumerate((sale, refund, void, rejected), start=1):  # in order: the refund after its sale
            publish(nats_server.url, event)
            wait_for(lambda: consumer_idle(nats_server.url, n), what=f"{event.event_id} settled")
        stub, channel = dashboard(port)
        with channel:
            got = {e.event_id: stub.GetEventOutcome(pb.GetEventOutcomeRequest(tenant_id=TENANT, event_id=e.event_id),
                                                    timeout=10).outcome
                   for e in (sale, refund, void, rejected)}
            listing = stub.ListEventOutcomes(pb.ListEventOutcomesRequest(tenant_id=TENANT), timeout=10)
            of_sale = stub.ListEventOutcomes(pb.ListEventOutcomesRequest(tenant_id=TENANT, transaction_id="FACT-10"),
                                             timeout=10)
            dead = stub.ListEventOutcomes(pb.ListEventOutcomesRequest(tenant_id=TENANT, status="dead_lettered"),
                                          timeout=10)

    summary = {event_id: (o.status, o.transaction_id, o.event_type, [i.outcome for i in o.line_items])
               for event_id, o in got.items()}
    assert summary == {
        sale.event_id: ("processed", "FACT-10", "transaction.created", ["assigned", "skipped"]),
        refund.event_id: ("processed", "FACT-10", "transaction.refunded", ["released"]),
        void.event_id: ("processed", "FACT-11", "transaction.voided", []),
        rejected.event_id: ("dead_lettered", "FACT-12", "transaction.created", []),
    }
    assert got[sale.event_id].customer_created and got[sale.event_id].deliveries == 1
    assert "INVALID_ARGUMENT" in got[rejected.event_id].reason
    assert [o.event_id for o in listing.outcomes] == [rejected.event_id, void.event_id, refund.event_id, sale.event_id]
    assert [o.event_id for o in of_sale.outcomes] == [refund.event_id, sale.event_id]
    assert [o.event_id for o in dead.outcomes] == [rejected.event_id]
    rows = outcome_rows(processor_db)
    assert {(r["transaction_id"], r["event_type"]) for r in rows.values()} == {
        ("FACT-10", "transaction.created"), ("FACT-10", "transaction.refunded"), ("FACT-11", "transaction.voided"),
        ("FACT-12", "transaction.created")}


def test_the_server_stops_with_the_processor_and_run_alone_serves_nothing(serving_env, caplog):
    caplog.set_level(logging.INFO, logger="processor")
    port = int(serving_env["PROCESSOR_GRPC_PORT"])
    with ServingProcessor(serving_env):
        wait_for(grpc_serving(f"127.0.0.1:{port}", tls_files(grpc_tls.OPERATOR)), what="the gRPC server SERVING")
    stub, channel = dashboard(port)
    with channel, pytest.raises(grpc.RpcError) as stopped:
        stub.ListEventOutcomes(pb.ListEventOutcomesRequest(tenant_id=TENANT), timeout=5)
    assert stopped.value.code() == grpc.StatusCode.UNAVAILABLE

    assert "processor serving autentikapp.v1.EventOutcomeService on 127.0.0.1" in caplog.text
    caplog.clear()
    with InProcessProcessor(serving_env):  # what the other in-process tests run: no server, no port
        wait_for(lambda: "processor ready" in caplog.text, what="the processor ready")
        assert "EventOutcomeService" not in caplog.text
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # nothing listens there: the port is free


def test_a_taken_port_stops_the_process_with_one_line(serving_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "processor"], capture_output=True, text=True, timeout=60,
                                env={**os.environ, **serving_env, "PROCESSOR_GRPC_PORT": str(port)})
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"processor: cannot listen on 127.0.0.1:{port} (PROCESSOR_GRPC_PORT): the port is taken or not ours"
