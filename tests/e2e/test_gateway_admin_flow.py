"""The gateway's admin API (gateway_admin, TenantAdminService) as the dashboard calls it: over mutual
TLS as role `dashboard`, one tenant per call, against the real gateway, processor, NATS and Postgres.
The module shares one system; each test makes tenants of its own."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from autentikapp.v1 import event_outcomes_pb2 as outcomes_pb, event_outcomes_pb2_grpc
from autentikapp.v1 import tenant_admin_pb2 as pb, tenant_admin_pb2_grpc
from common import grpc_tls
from system_support import EXAMPLE, wait_for


# Three deliveries per event, with delays that add up to more than the processor's longest gRPC reconnect
# backoff (3 s, processor/clients.py): a replay sent right after the service returns must not run out of
# deliveries while the processor's channel still waits to reconnect (as in test_dead_letters.py).
SYSTEM_ENV = {"BUS_MAX_DELIVER": "3", "PROCESSOR_RETRY_DELAYS": "1,4"}
_numbers = itertools.count(1)


def channel_as(sut, role: str, service: str) -> grpc.Channel:
    tls_dir = Path(sut.env[grpc_tls.CA_ENV]).parent
    files = grpc_tls.TlsFiles(tls_dir / "ca.crt", tls_dir / f"{role}.crt", tls_dir / f"{role}.key")
    return grpc_tls.channel(f"127.0.0.1:{sut.ports[service]}", files)


@pytest.fixture(scope="module")
def admin(brand_system):
    with channel_as(brand_system, grpc_tls.DASHBOARD, "gateway_admin") as channel:
        yield tenant_admin_pb2_grpc.TenantAdminServiceStub(channel)


@pytest.fixture(scope="module")
def outcomes(brand_system):
    with channel_as(brand_system, grpc_tls.DASHBOARD, "processor") as channel:
        yield event_outcomes_pb2_grpc.EventOutcomeServiceStub(channel)


@dataclass(frozen=True)
class Tenants:
    """Two tenants of one test: acme (the guide's code registered, and its first secret) and globex."""

    acme: str
    acme_secret: str
    globex: str


@pytest.fixture
def tenants(brand_system) -> Tenants:
    number = next(_numbers)
    code = json.loads(EXAMPLE.read_bytes())["transaction_data"]["line_items"][0]["autentikapp_code"]
    acme, globex = f"acme{number}", f"globex{number}"
    secret = brand_system.create_tenant(acme, "Acme", (code,))
    brand_system.create_tenant(globex, "Globex")
    return Tenants(acme, secret, globex)


def outcome_of(outcomes, tenant_id: str, event_id: str):
    def recorded():
        try:
            return outcomes.GetEventOutcome(outcomes_pb.GetEventOutcomeRequest(tenant_id=tenant_id, event_id=event_id),
                                            timeout=5).outcome
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                return None
            raise
    return wait_for(recorded, timeout=60, interval=0.2, what=f"outcome of {event_id}")


def test_secrets_are_rotated_and_the_last_active_one_is_kept(admin, tenants):
    acme = tenants.acme
    first = admin.ListSecrets(pb.ListSecretsRequest(tenant_id=acme)).secrets
    assert [s.platform for s in first] == ["autentikapp"]
    with pytest.raises(grpc.RpcError) as last:
        admin.RevokeSecret(pb.RevokeSecretRequest(tenant_id=acme, secret_id=first[0].id))
    assert last.value.code() is grpc.StatusCode.FAILED_PRECONDITION and "last active" in last.value.details()

    created = admin.CreateSecret(pb.CreateSecretRequest(tenant_id=acme))
    assert created.secret.startswith("whsec_") and created.metadata.id != first[0].id
    revoked = admin.RevokeSecret(pb.RevokeSecretRequest(tenant_id=acme, secret_id=first[0].id)).metadata
    assert revoked.HasField("revoked_at")
    listed = admin.ListSecrets(pb.ListSecretsRequest(tenant_id=acme)).secrets
    assert [(s.id, s.HasField("revoked_at")) for s in listed] == [(created.metadata.id, False), (first[0].id, True)]


def test_another_tenants_secret_is_not_found_and_untouched(admin, tenants):
    acme = tenants.acme
    globex = tenants.globex
    theirs = admin.ListSecrets(pb.ListSecretsRequest(tenant_id=globex)).secrets[0]
    admin.CreateSecret(pb.CreateSecretRequest(tenant_id=globex))
    with pytest.raises(grpc.RpcError) as other:
        admin.RevokeSecret(pb.RevokeSecretRequest(tenant_id=acme, secret_id=theirs.id))
    assert other.value.code() is grpc.StatusCode.NOT_FOUND
    assert not any(s.HasField("revoked_at") for s in admin.ListSecrets(pb.ListSecretsRequest(tenant_id=globex)).secrets)


def test_a_test_sale_goes_through_the_gateway_and_is_assigned(admin, outcomes, tenants):
    acme = tenants.acme
    answer = admin.SendTestSale(pb.SendTestSaleRequest(tenant_id=acme))
    assert answer.http_status == 202 and answer.event_id.startswith("evt_")
    assert answer.transaction_id.startswith("PRUEBA-")
    outcome = outcome_of(outcomes, acme, answer.event_id)
    assert outcome.status == "processed" and outcome.transaction_id == answer.transaction_id
    assert [item.outcome for item in outcome.line_items] == ["assigned"]
    again = admin.SendTestSale(pb.SendTestSaleRequest(tenant_id=acme))
    assert again.event_id != answer.event_id  # a new transaction each time, never a 409 or a duplicate
    assert [i.outcome for i in outcome_of(outcomes, acme, again.event_id).line_items] == ["already_assigned"]


def test_refused_requests_are_listed_for_their_tenant_only(brand_system, admin, tenants):
    acme = tenants.acme
    globex = tenants.globex
    status, _, _ = brand_system.post(acme, b"{}", {"Content-Type": "application/json",
                                                     "X-Autentikapp-Signature": "sha256=00"})
    assert status == 401
    listed = wait_for(lambda: admin.ListRefusedRequests(pb.ListRefusedRequestsRequest(tenant_id=acme)).requests,
                      what="the refused request recorded")
    assert (listed[0].http_status, listed[0].code, listed[0].source) == (401, "invalid-signature", "autentikapp")
    assert not admin.ListRefusedRequests(pb.ListRefusedRequestsRequest(tenant_id=globex)).requests


def test_a_dead_letter_is_listed_and_replayed_for_its_tenant_only(brand_system, admin, outcomes, tenants):
    acme = tenants.acme
    globex = tenants.globex
    sut = brand_system
    sut.stop("identifier_service")
    status, _, body = sut.send(acme, tenants.acme_secret, EXAMPLE.read_bytes())
    assert status == 202
    event_id = body["event_id"]
    assert outcome_of(outcomes, acme, event_id).status == "dead_lettered"
    dead = wait_for(lambda: admin.ListDeadLetters(pb.ListDeadLettersRequest(tenant_id=acme)).dead_letters,
                    what="the dead letter listed")
    assert [(d.event_id, d.transaction_id) for d in dead] == [(event_id, "FACT-00123")]
    assert not admin.ListDeadLetters(pb.ListDeadLettersRequest(tenant_id=globex)).dead_letters
    with pytest.raises(grpc.RpcError) as other:
        admin.ReplayDeadLetter(pb.ReplayDeadLetterRequest(tenant_id=globex, sequence=dead[0].sequence))
    assert other.value.code() is grpc.StatusCode.NOT_FOUND

    sut.start("identifier_service")
    replayed = admin.ReplayDeadLetter(pb.ReplayDeadLetterRequest(tenant_id=acme, sequence=dead[0].sequence))
    assert replayed.event_id == event_id and not replayed.duplicate
    wait_for(lambda: outcome_of(outcomes, acme, event_id).status == "processed", timeout=60,
             what="the replayed event processed")
    assert not admin.ListDeadLetters(pb.ListDeadLettersRequest(tenant_id=acme)).dead_letters


@pytest.mark.parametrize("role", [grpc_tls.PROCESSOR])
def test_only_the_dashboard_and_operators_may_call_it(brand_system, tenants, role):
    acme = tenants.acme
    with channel_as(brand_system, role, "gateway_admin") as channel:
        stub = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetTenant(pb.GetTenantRequest(tenant_id=acme))
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with channel_as(brand_system, grpc_tls.OPERATOR, "gateway_admin") as channel:
        assert tenant_admin_pb2_grpc.TenantAdminServiceStub(channel).GetTenant(
            pb.GetTenantRequest(tenant_id=acme)).name == "Acme"
