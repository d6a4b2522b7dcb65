"""Poison never blocks, and an operator can list and replay it: `autentikapp dlq` against real NATS, real
services and Postgres, with the processor in-process and short retry delays."""

from __future__ import annotations

import asyncio
import json

import nats.errors
import pytest
from nats.js.manager import JetStreamManager

from autentikapp.v1 import customer_pb2, customer_pb2_grpc, identifier_pb2, identifier_pb2_grpc
from cli.main import main
from common import bus, dead_letter_message, work_message
from devstack.ports import free_port
from processor_support import (
    TENANT,
    InProcessProcessor,
    _with_js,
    consumer_idle,
    outcome_rows,
    processor_env,
    publish,
    webhook_event,
)
from system_support import wait_for

NOT_PROTOBUF = b"this is not a protobuf message"
INVALID_EMAIL = "UpsertCustomer failed: INVALID_ARGUMENT (email is not a valid e-mail address)"


@pytest.fixture
def cli(capsys, monkeypatch, nats_server):
    """Run `autentikapp` in this process against the test's NATS; return (exit code, stdout, stderr)."""
    monkeypatch.setenv("NATS_URL", nats_server.url)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def cli_json(cli, *argv: str):
    """Run a command with --json, expect success, return its document."""
    code, out, err = cli("--json", *argv)
    assert code == 0, err
    return json.loads(out)


def register(identifier_service, *codes: str) -> None:
    stub = identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)
    stub.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(tenant_id=TENANT, codes=list(codes)), timeout=10)


def customers_of(customer_service, tenant_id: str = TENANT) -> list:
    stub = customer_pb2_grpc.CustomerServiceStub(customer_service.channel)
    return list(stub.ListCustomers(customer_pb2.ListCustomersRequest(tenant_id=tenant_id, page_size=1000),
                                   timeout=10).customers)


def work_stream_messages(nats_url: str, stream: str = bus.STREAM) -> int:
    """How many messages a stream holds (deleted ones not counted)."""
    async def count(js):
        return (await js.stream_info(stream)).state.messages

    return asyncio.run(_with_js(nats_url, count))


def seed_dead_letter(nats_url: str, event, reason: str, *, sequence: int = 1) -> None:
    """An entry as the processor's dead-letter publish makes it (processor/dead_lettering.py)."""
    publish(nats_url)  # creates the streams

    async def work(js):
        await js.publish(bus.dead_letter_subject_for(event.tenant_id), event.SerializeToString(),
                         stream=bus.DEAD_LETTER_STREAM, headers={
                             work_message.HEADER_MSG_ID: f"{event.event_id}:{sequence}", dead_letter_message.HEADER_REASON: reason,
                             dead_letter_message.HEADER_ORIGINAL_SUBJECT: bus.subject_for(event.tenant_id),
                             dead_letter_message.HEADER_DELIVERIES: "1", work_message.HEADER_EVENT_ID: event.event_id,
                             work_message.HEADER_TENANT_ID: event.tenant_id})

    asyncio.run(_with_js(nats_url, work))


def test_poison_is_dead_lettered_the_rest_complete_and_a_replay_of_poison_duplicates_nothing(
        nats_server, customer_service, identifier_service, processor_db, cli):
    env = processor_env(nats_server.url, f"127.0.0.1:{customer_service.port}",
                        f"127.0.0.1:{identifier_service.port}", processor_db)
    codes = [f"GOOD-{i}" for i in range(20)]
    register(identifier_service, *codes)
    rejected = webhook_event([("S1", "")], customer={"email": "not-an-email@", "first_name": "Rosa"})
    good = [webhook_event([("S", code)]) for code in codes]
    publish(nats_server.url, (bus.subject_for(TENANT), NOT_PROTOBUF, None), rejected, *good)

    with InProcessProcessor(env):
        wait_for(lambda: consumer_idle(nats_server.url, 22), what="every message settled")
        listed = cli_json(cli, "dlq", "list")
        code, human, _ = cli("dlq", "list")
        replayed = cli_json(cli, "dlq", "replay", "--all", "--tenant", TENANT)
        wait_for(lambda: consumer_idle(nats_server.url, 24), what="the replays settled")
        relisted = wait_for(lambda: len(listed_again := cli_json(cli, "dlq", "list")) == 2 and listed_again,
                            what="both back in the dead-letter stream")

    # Before the replay: exactly the two poison messages, with their reasons; the 20 behind them done.
    assert [(e["sequence"], e["event_id"], e["tenant_id"], e["reason"], e["deliveries"], e["original_subject"],
             e["replayed"]) for e in listed] == [
        (1, None, TENANT, "not a WebhookEvent protobuf", 1, "webhooks.inbound.t1", False),
        (2, rejected.event_id, TENANT, INVALID_EMAIL, 1, "webhooks.inbound.t1", False),
    ]
    assert all(e["dead_lettered_at"] for e in listed)
    assert code == 0 and human.splitlines()[0].split() == [
        "sequence", "event_id", "tenant_id", "deliveries", "replayed", "dead_lettered_at", "original_subject", "reason"]
    assert INVALID_EMAIL in human and "not-an-email" not in human

    # The replay: both republished under replay ids, and both came back, still poison, with their reasons.
    assert [(r["sequence"], r["event_id"], r["msg_id"], r["duplicate"]) for r in replayed["replayed"]] == [
        (1, None, "unknown:replay:1", False), (2, rejected.event_id, f"{rejected.event_id}:replay:2", False)]
    assert replayed["refused"] == []
    assert sorted((e["event_id"] or "", e["reason"], e["replays"], e["replayed"]) for e in relisted) == sorted([
        ("", "not a WebhookEvent protobuf", 1, True), (rejected.event_id, INVALID_EMAIL, 1, True)])
    assert {e["sequence"] for e in relisted} == {3, 4}, "the replayed entries were removed"

    # Nothing else was touched or duplicated.
    rows = outcome_rows(processor_db)
    assert set(rows) == {rejected.event_id} | {e.event_id for e in good}, "no outcome for the unreadable message"
    for event in good:
        row = rows[event.event_id]
        assert (row["status"], row["deliveries"], [i["outcome"] for i in row["line_items"]]) == (
            "processed", 1, ["assigned"])
    assert (rows[rejected.event_id]["status"], rows[rejected.event_id]["reason"]) == ("dead_lettered", INVALID_EMAIL)
    assert len(customers_of(customer_service)) == 20
    assert work_stream_messages(nats_server.url) == 24, "22 published + 2 replays"


def test_a_replayed_event_that_now_succeeds_overwrites_its_dead_lettered_outcome(
        nats_server, customer_service, identifier_service, processor_db, cli):
    register(identifier_service, "CODE-1")
    event = webhook_event([("S1", "CODE-1")])
    down = processor_env(nats_server.url, f"127.0.0.1:{customer_service.port}", f"127.0.0.1:{free_port()}",
                         processor_db, PROCESSOR_RETRY_DELAYS="0.1,0.2", BUS_MAX_DELIVER="3")
    publish(nats_server.url, event)
    with InProcessProcessor(down):
        wait_for(lambda: consumer_idle(nats_server.url, 1), what="the event dead-lettered")
    dead = outcome_rows(processor_db)[event.event_id]
    assert (dead["status"], dead["deliveries"]) == ("dead_lettered", 3)
    assert dead["reason"].startswith("AssignIdentifiers failed: UNAVAILABLE")
    [entry] = cli_json(cli, "dlq", "list")
    assert (entry["event_id"], entry["reason"], entry["deliveries"]) == (event.event_id, dead["reason"], 3)

    up = {**down, "IDENTIFIER_SERVICE_ADDR": f"127.0.0.1:{identifier_service.port}"}
    with InProcessProcessor(up):
        replayed = cli_json(cli, "dlq", "replay", event.event_id)
        row = wait_for(lambda: (r := outcome_rows(processor_db)[event.event_id])["status"] == "processed" and r,
                       what="the replayed event processed")
    assert [r["event_id"] for r in replayed["replayed"]] == [event.event_id]
    assert row["reason"] is None and [i["outcome"] for i in row["line_items"]] == ["assigned"]
    assert row["first_processed_at"] == dead["first_processed_at"], "the same row, rewritten"
    assert len(customers_of(customer_service)) == 1
    assert cli_json(cli, "dlq", "list") == []
    assert work_stream_messages(nats_server.url, bus.DEAD_LETTER_STREAM) == 0
    assert cli_json(cli, "dlq", "replay", "--all") == {"replayed": [], "refused": []}
    code, _, err = cli("dlq", "replay", event.event_id)
    assert (code, err) == (3, f"autentikapp: no dead letter for event {event.event_id}\n")


def test_a_replay_interrupted_between_publish_and_delete_is_published_once(nats_server, cli, monkeypatch):
    event = webhook_event([("S1", "")])
    seed_dead_letter(nats_server.url, event, INVALID_EMAIL)
    real_delete = JetStreamManager.delete_msg

    async def lost_answer(self, stream, seq):
        raise nats.errors.TimeoutError

    monkeypatch.setattr(JetStreamManager, "delete_msg", lost_answer)
    code, out, err = cli("dlq", "replay", event.event_id)
    assert code == 1 and out == "nothing replayed\n"
    assert err.startswith("autentikapp: replayed 0, then stopped at dead letter 1: NATS TimeoutError;")
    assert err.count("\n") == 1
    assert work_stream_messages(nats_server.url) == 1, "published before the delete failed"
    [still] = cli_json(cli, "dlq", "list")
    assert still["event_id"] == event.event_id

    monkeypatch.setattr(JetStreamManager, "delete_msg", real_delete)
    [again] = cli_json(cli, "dlq", "replay", event.event_id)["replayed"]
    assert (again["msg_id"], again["duplicate"], again["work_sequence"]) == (f"{event.event_id}:replay:1", True, 1)
    assert work_stream_messages(nats_server.url) == 1, "JetStream dropped the second publish"
    assert cli_json(cli, "dlq", "list") == []


def test_list_and_replay_by_tenant_with_limits_and_nothing_to_do(nats_server, cli):
    code, out, err = cli("dlq", "list")
    assert (code, out, err) == (0, "no dead letters\n", ""), "no stream yet is no dead letters"
    assert cli("dlq", "replay", "--all") == (0, "nothing to replay\n", "")
    code, _, err = cli("dlq", "replay", "evt_nope", "evt_none")
    assert (code, err) == (3, "autentikapp: no dead letter for events evt_nope, evt_none\n")

    first, second, other = (webhook_event(), webhook_event(), webhook_event(tenant_id="t2"))
    for sequence, event in enumerate((first, other, second), 1):
        seed_dead_letter(nats_server.url, event, "some reason", sequence=sequence)
    assert [e["event_id"] for e in cli_json(cli, "dlq", "list", "--tenant", "t2")] == [other.event_id]
    code, out, err = cli("dlq", "list", "--limit", "1")
    assert code == 0 and len(out.splitlines()) == 2 and first.event_id in out
    assert "there are more" in err

    code, _, err = cli("dlq", "replay", "--tenant", "t2", first.event_id)
    assert code == 3 and "of tenant t2" in err
    code, out, err = cli("dlq", "replay", "--all", "--tenant", "t1")
    assert code == 0 and first.event_id in out and second.event_id in out and other.event_id not in out
    assert "replayed 2;" in err
    assert [e["event_id"] for e in cli_json(cli, "dlq", "list")] == [other.event_id]
    assert work_stream_messages(nats_server.url) == 2


def test_nats_unreachable_is_one_line(cli, monkeypatch):
    monkeypatch.setenv("NATS_URL", f"nats://user:secret@127.0.0.1:{free_port()}")
    code, out, err = cli("dlq", "list")
    assert code == 1 and out == ""
    assert err.startswith("autentikapp: cannot reach NATS at nats://user:***@127.0.0.1:") and err.count("\n") == 1
    assert "secret" not in err
