"""A brand's sales as its dashboard sees them, end to end: sales signed and sent through the real gateway,
processed, then read from the processor's own gRPC server (EventOutcomeService at PROCESSOR_ADDR, as make
run hands it to every process), over mutual TLS as the dashboard, with the transaction and event type of
each event."""

from __future__ import annotations

import json

import grpc
import pytest

from autentikapp.v1 import event_outcomes_pb2 as pb
from autentikapp.v1 import event_outcomes_pb2_grpc
from common import grpc_tls
from devstack import system
from system_support import EXAMPLE

CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"


def sale(transaction_id: str, email: str) -> bytes:
    body = json.loads(EXAMPLE.read_bytes())
    body["transaction_data"]["transaction_id"] = transaction_id
    body["customer_data"] = {"email": email}
    return json.dumps(body).encode()


def void(transaction_id: str) -> bytes:
    return json.dumps({"event_type": "transaction.voided", "event_timestamp": "2025-09-14T10:15:00-05:00",
                       "transaction_data": {"transaction_id": transaction_id}}).encode()


def channel_as(sut, role: str) -> grpc.Channel:
    """A channel to the processor's address as the processes get it, with `role`'s certificate from the
    system's throwaway CA."""
    tls_dir = system.tls_files(sut.env).ca.parent
    files = grpc_tls.TlsFiles(tls_dir / "ca.crt", tls_dir / f"{role}.crt", tls_dir / f"{role}.key")
    return grpc_tls.channel(sut.env["PROCESSOR_ADDR"], files)


def test_the_dashboard_reads_each_events_outcome_from_the_processor(running_system):
    sut = running_system
    assert sut.env["PROCESSOR_ADDR"] == f"127.0.0.1:{sut.ports['processor']}"
    secret = sut.cli("tenants", "create", "--name", "Tienda", "--id", "tienda")["secret"]
    sut.cli("identifiers", "register", "--tenant", "tienda", CODE)
    sent = []
    for body in (sale("FACT-00123", "ana.gomez@correo-tienda.co"), void("FACT-00123"),
                 sale("FACT-00200", "luis.perez@clientes.co")):
        status, _, answer = sut.send("tienda", secret, body)
        assert status == 202, answer
        sent.append(answer["event_id"])
        # one after the other: the void after its sale, the second sale after the void freed the code
        sut.outcome(sent[-1])

    with channel_as(sut, grpc_tls.DASHBOARD) as channel:
        stub = event_outcomes_pb2_grpc.EventOutcomeServiceStub(channel)
        listing = stub.ListEventOutcomes(pb.ListEventOutcomesRequest(tenant_id="tienda"), timeout=10)
        first_sale = stub.ListEventOutcomes(pb.ListEventOutcomesRequest(tenant_id="tienda", transaction_id="FACT-00123"),
                                            timeout=10)
        one = stub.GetEventOutcome(pb.GetEventOutcomeRequest(tenant_id="tienda", event_id=sent[2]), timeout=10)
        with pytest.raises(grpc.RpcError) as other_tenant:
            stub.GetEventOutcome(pb.GetEventOutcomeRequest(tenant_id="otra", event_id=sent[2]), timeout=10)

    assert [(o.event_id, o.transaction_id, o.event_type, [i.outcome for i in o.line_items])
            for o in listing.outcomes] == [
        (sent[2], "FACT-00200", "transaction.created", ["assigned"]),
        (sent[1], "FACT-00123", "transaction.voided", ["released"]),
        (sent[0], "FACT-00123", "transaction.created", ["assigned"]),
    ]
    assert [o.event_id for o in first_sale.outcomes] == [sent[1], sent[0]]
    assert (one.outcome.status, one.outcome.line_items[0].code) == ("processed", CODE)
    assert other_tenant.value.code() == grpc.StatusCode.NOT_FOUND

    with channel_as(sut, grpc_tls.PROCESSOR) as channel, pytest.raises(grpc.RpcError) as denied:
        event_outcomes_pb2_grpc.EventOutcomeServiceStub(channel).ListEventOutcomes(
            pb.ListEventOutcomesRequest(tenant_id="tienda"), timeout=10)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
