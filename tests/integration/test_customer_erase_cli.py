"""`autentikapp customers erase` in-process against a real customer service (Postgres) and real NATS: the
customer is erased and the tenant's dead letters that hold the buyer are purged, the others kept."""

from __future__ import annotations

import asyncio
import json

import pytest
from processor_support import _with_js, publish, webhook_event

from autentikapp.v1 import customer_pb2, customer_pb2_grpc
from cli.main import main
from common import bus, dead_letter_message, work_message
from devstack.ports import free_port
from processor import dead_letter_admin

ANA = dict(national_id="1020457896", email="ana.gomez@correo-tienda.co", phone_number="+573104567890",
           first_name="Ana", last_name="Gómez")
DIEGO = dict(national_id="79845123", email="diego.lopez@correo-tienda.co")
NOT_PROTOBUF = b"this is not a protobuf message"


@pytest.fixture
def cli(capsys, monkeypatch, nats_server, customer_service):
    """Run `autentikapp` in this process against the test's NATS and customer service."""
    monkeypatch.setenv("NATS_URL", nats_server.url)
    monkeypatch.setenv("CUSTOMER_SERVICE_ADDR", f"127.0.0.1:{customer_service.port}")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def create(customer_service, tenant_id: str = "t1", **data: str) -> str:
    stub = customer_pb2_grpc.CustomerServiceStub(customer_service.channel)
    return stub.UpsertCustomer(customer_pb2.UpsertCustomerRequest(
        tenant_id=tenant_id, data=customer_pb2.CustomerData(**data)), timeout=10).customer.id


def seed(nats_url: str, *entries: tuple[str, bytes, str]) -> None:
    """Dead letters as processor/dead_lettering.py stores them: (tenant, bytes, event id) each."""
    publish(nats_url)  # creates the streams

    async def work(js):
        for number, (tenant_id, data, event_id) in enumerate(entries, 1):
            await js.publish(bus.dead_letter_subject_for(tenant_id), data, stream=bus.DEAD_LETTER_STREAM, headers={
                work_message.HEADER_MSG_ID: f"{event_id or 'unknown'}:{number}",
                dead_letter_message.HEADER_REASON: "UpsertCustomer failed: UNAVAILABLE",
                dead_letter_message.HEADER_ORIGINAL_SUBJECT: bus.subject_for(tenant_id),
                dead_letter_message.HEADER_DELIVERIES: "20", work_message.HEADER_TENANT_ID: tenant_id,
                **({work_message.HEADER_EVENT_ID: event_id} if event_id else {})})

    asyncio.run(_with_js(nats_url, work))


def event(tenant_id: str = "t1", country: str = "", **customer: str):
    made = webhook_event([("SKU-1", "CODE-1")], tenant_id=tenant_id, customer=customer)
    made.buyer_rules.default_country = country
    return made


def remaining(nats_url: str) -> list[tuple[str, str]]:
    """(tenant, event id) of every entry left in the dead-letter stream (deleted ones skipped)."""
    async def work(js):
        return [(entry.tenant_id, entry.event_id) async for entry in dead_letter_admin.entries(js)]

    return asyncio.run(_with_js(nats_url, work))


def test_erase_purges_the_tenants_dead_letters_of_the_buyer_and_keeps_the_others(
        nats_server, customer_service, cli):
    ana = create(customer_service, **ANA)
    create(customer_service, **DIEGO)
    by_id = event(national_id=ANA["national_id"], first_name="Ana")
    by_email = event(email="Ana.Gomez@Correo-Tienda.co")
    by_local_phone = event(country="CO", phone_number="310 456 7890")
    diego = event(**DIEGO)
    other_tenant = event(tenant_id="t2", **ANA)
    seed(nats_server.url, ("t1", by_id.SerializeToString(), by_id.event_id),
         ("t1", diego.SerializeToString(), diego.event_id), ("t1", NOT_PROTOBUF, ""),
         ("t1", by_email.SerializeToString(), by_email.event_id),
         ("t2", other_tenant.SerializeToString(), other_tenant.event_id),
         ("t1", by_local_phone.SerializeToString(), by_local_phone.event_id))

    code, out, err = cli("--json", "customers", "erase", "--tenant", "t1", ana, "--requested-by", "DPO Laura Ruiz",
                         "--reason", "habeas data HD-2025-118")

    assert code == 0, err
    done = json.loads(out)
    assert (done["customer_id"], done["tenant_id"], done["already_erased"]) == (ana, "t1", False)
    assert done["erased_fields"] == ["national_id", "email", "phone_number", "first_name", "last_name"]
    assert (done["dead_letters_removed"], done["dead_letters_undecodable"]) == (3, 1)
    assert done["erased_at"] and done["customer"]["id"] == ana
    assert not any(value in out + err for value in ANA.values())
    assert remaining(nats_server.url) == [("t1", diego.event_id), ("t1", ""), ("t2", other_tenant.event_id)]

    # Again: the same erasure, nothing left to purge, the undecodable entry still reported.
    code, out, err = cli("customers", "erase", "--tenant", "t1", ana, "--requested-by", "DPO Laura Ruiz")
    assert code == 0, err
    shown = dict(line.split(":", 1) for line in out.splitlines())
    assert {k: v.strip() for k, v in shown.items() if k in ("already_erased", "dead_letters_removed")} == {
        "already_erased": "True", "dead_letters_removed": "0"}
    assert "could not be decoded" in err and "already erased" in err
    assert len(remaining(nats_server.url)) == 3


def test_another_tenants_customer_is_not_found_and_nothing_is_purged(nats_server, customer_service, cli):
    theirs = create(customer_service, tenant_id="t2", **ANA)
    entry = event(**ANA)
    seed(nats_server.url, ("t1", entry.SerializeToString(), entry.event_id))
    code, _, err = cli("customers", "erase", "--tenant", "t1", theirs, "--requested-by", "DPO")
    assert code == 3 and "NOT_FOUND" in err
    assert remaining(nats_server.url) == [("t1", entry.event_id)]


def test_the_erasure_stands_when_nats_is_down_and_running_again_finishes(
        nats_server, customer_service, cli, monkeypatch):
    ana = create(customer_service, **ANA)
    entry = event(**ANA)
    seed(nats_server.url, ("t1", entry.SerializeToString(), entry.event_id))

    monkeypatch.setenv("NATS_URL", f"nats://127.0.0.1:{free_port()}")
    code, out, err = cli("customers", "erase", "--tenant", "t1", ana, "--requested-by", "DPO")
    assert code == 1
    assert "is erased, but its dead letters were not all purged" in err and "run the same command again" in err
    assert "already_erased:" in out and "dead_letters_removed:     -" in out

    monkeypatch.setenv("NATS_URL", nats_server.url)
    code, out, err = cli("--json", "customers", "erase", "--tenant", "t1", ana, "--requested-by", "DPO")
    assert code == 0, err
    assert (json.loads(out)["already_erased"], json.loads(out)["dead_letters_removed"]) == (True, 1)
    assert remaining(nats_server.url) == []
