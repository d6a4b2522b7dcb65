"""The processor when things go wrong, against real NATS, services and Postgres: poison messages end in
the dead-letter stream and never block the others; a stopped service makes events wait, not fail."""

from __future__ import annotations

import logging
import sys
import time


from autentikapp.v1 import identifier_pb2, identifier_pb2_grpc
from common import bus, dead_letter_message, grpc_tls, work_message
from devstack.ports import free_port
from devstack.processes import ProcessGroup
from devstack.ready import grpc_serving
from processor_support import (
    TENANT,
    InProcessProcessor,
    consumer_idle,
    consumer_info,
    dead_letters,
    outcome_rows,
    processor_env,
    publish,
    webhook_event,
)
from system_support import wait_for
from tls_support import tls_env, tls_files

NOT_PROTOBUF = b"this is not a protobuf message"


def register(identifier_service, *codes: str) -> None:
    stub = identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)
    stub.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(tenant_id=TENANT, codes=list(codes)), timeout=10)


def test_poison_messages_are_dead_lettered_with_their_reason_and_the_rest_complete(
        nats_server, customer_service, identifier_service, processor_db, caplog):
    caplog.set_level(logging.INFO)
    env = processor_env(nats_server.url, f"127.0.0.1:{customer_service.port}",
                        f"127.0.0.1:{identifier_service.port}", processor_db)
    rejected = webhook_event([("S1", "")], customer={"email": "not-an-email@", "first_name": "Rosa"})
    good = [webhook_event([("S1", "")]) for _ in range(3)]
    publish(nats_server.url, (bus.subject_for(TENANT), NOT_PROTOBUF, None), rejected, *good)

    with InProcessProcessor(env):
        wait_for(lambda: consumer_idle(nats_server.url, 5), what="every message settled")
    rows = outcome_rows(processor_db)
    dead = dead_letters(nats_server.url)

    assert all(rows[e.event_id]["status"] == "processed" for e in good), "the events behind the poison completed"
    assert len(dead) == 2
    garbage, invalid = dead
    assert garbage.subject == bus.dead_letter_subject_for(TENANT) and garbage.data == NOT_PROTOBUF
    assert garbage.headers[dead_letter_message.HEADER_REASON] == "not a WebhookEvent protobuf"
    assert garbage.headers[dead_letter_message.HEADER_ORIGINAL_SUBJECT] == bus.subject_for(TENANT)
    assert garbage.headers[dead_letter_message.HEADER_DELIVERIES] == "1"
    assert garbage.headers[work_message.HEADER_MSG_ID] == "unknown:1"

    reason = "UpsertCustomer failed: INVALID_ARGUMENT (email is not a valid e-mail address)"
    assert invalid.data == rejected.SerializeToString()
    assert invalid.headers[dead_letter_message.HEADER_REASON] == reason
    assert invalid.headers[work_message.HEADER_MSG_ID] == f"{rejected.event_id}:2"
    assert (invalid.headers[work_message.HEADER_EVENT_ID], invalid.headers[work_message.HEADER_TENANT_ID]) == (rejected.event_id, TENANT)
    row = rows[rejected.event_id]
    assert (row["status"], row["reason"], row["deliveries"], row["line_items"]) == ("dead_lettered", reason, 1, [])
    assert "not-an-email" not in caplog.text and "Rosa" not in caplog.text


def test_a_dependency_that_stays_down_is_dead_lettered_after_bounded_retries(
        nats_server, customer_service, processor_db):
    # Nothing listens at the identifier service's address; the processor creates the consumer with max_deliver 3.
    env = processor_env(nats_server.url, f"127.0.0.1:{customer_service.port}", f"127.0.0.1:{free_port()}",
                        processor_db, PROCESSOR_RETRY_DELAYS="0.1,0.2", BUS_MAX_DELIVER="3")
    stuck = webhook_event([("S1", "CODE-1")])
    plain = webhook_event([("S1", "")])  # needs no identifier service: completes meanwhile
    started = time.monotonic()
    publish(nats_server.url, stuck, plain)
    with InProcessProcessor(env):
        row = wait_for(lambda: outcome_rows(processor_db).get(stuck.event_id), what="the dead-lettered outcome")
        wait_for(lambda: consumer_idle(nats_server.url, 2), what="every message settled")
    elapsed = time.monotonic() - started

    assert outcome_rows(processor_db)[plain.event_id]["status"] == "processed"
    assert (row["status"], row["deliveries"]) == ("dead_lettered", 3)
    assert row["reason"].startswith("AssignIdentifiers failed: UNAVAILABLE")
    assert row["reason"].endswith("; gave up after 3 deliveries")
    [dead] = dead_letters(nats_server.url)
    assert dead.headers[dead_letter_message.HEADER_DELIVERIES] == "3" and dead.headers[dead_letter_message.HEADER_REASON] == row["reason"]
    assert elapsed < 10


def test_events_wait_for_a_stopped_service_and_all_complete_after_it_returns(
        tmp_path, nats_server, customer_db, identifier_service, processor_db):
    port = free_port()
    service_env = {"CUSTOMER_SERVICE_DATABASE_URL": customer_db, "CUSTOMER_SERVICE_PORT": str(port),
                   "BIND_HOST": "127.0.0.1", "SHUTDOWN_GRACE_SECONDS": "1", **tls_env("customer-service")}

    def start_customer_service(group: ProcessGroup) -> None:
        group.start("customer_service", [sys.executable, "-m", "customer_service"], service_env,
                    ready=grpc_serving(f"127.0.0.1:{port}", tls_files(grpc_tls.OPERATOR)))

    codes = [f"WAIT-{i}" for i in range(12)]
    register(identifier_service, *codes)
    before = [webhook_event([("S", code)]) for code in codes[:2]]
    during = [webhook_event([("S", code)]) for code in codes[2:]]
    env = processor_env(nats_server.url, f"127.0.0.1:{port}", f"127.0.0.1:{identifier_service.port}", processor_db)

    with ProcessGroup(tmp_path / "logs", grace=10) as group, InProcessProcessor(env):
        start_customer_service(group)
        publish(nats_server.url, *before)
        wait_for(lambda: consumer_idle(nats_server.url, 2), what="the first events")

        group.stop("customer_service")
        publish(nats_server.url, *during)
        wait_for(lambda: consumer_info(nats_server.url).num_redelivered >= len(during), what="redeliveries")
        assert not set(outcome_rows(processor_db)) & {e.event_id for e in during}, "nothing completes without it"

        start_customer_service(group)
        wait_for(lambda: consumer_idle(nats_server.url, 12), what="every event after the service returned")

    rows = outcome_rows(processor_db)
    assert len(rows) == 12
    for event in before + during:
        row = rows[event.event_id]
        assert row["status"] == "processed"
        assert [i["outcome"] for i in row["line_items"]] == ["assigned"]
    assert all(rows[e.event_id]["deliveries"] > 1 for e in during)
    assert dead_letters(nats_server.url) == []


def test_a_nats_restart_loses_nothing(nats_server, customer_service, identifier_service, processor_db):
    env = processor_env(nats_server.url, f"127.0.0.1:{customer_service.port}",
                        f"127.0.0.1:{identifier_service.port}", processor_db)
    before = [webhook_event([("S", "")]) for _ in range(5)]
    after = [webhook_event([("S", "")]) for _ in range(5)]
    with InProcessProcessor(env):
        publish(nats_server.url, *before)
        wait_for(lambda: consumer_idle(nats_server.url, 5), what="the events before the restart")
        nats_server.restart()
        publish(nats_server.url, *after)
        wait_for(lambda: consumer_idle(nats_server.url, 10), what="the events after the restart")
    rows = outcome_rows(processor_db)
    assert {e.event_id for e in before + after} == set(rows)
    assert {row["status"] for row in rows.values()} == {"processed"}
