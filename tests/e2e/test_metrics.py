"""Every process's /metrics after a small end-to-end run, the deterministic counts checked exactly.

Four signed sales (two codes that get assigned, one unknown code, two items without a code), two
webhooks refused with 401 (a wrong signature, an unknown tenant) and one message on the bus that is
not an event (dead-lettered at once). The gateway runs two gunicorn workers (TEST_SETTINGS), so its
exact totals also prove that the master's endpoint sums what every worker counted.
"""

from __future__ import annotations

import asyncio
import json

import nats
from system_support import EXAMPLE, sign, wait_for

from common import bus, work_message

TENANT = "metrics"
SALES = {  # transaction id -> codes of its line items (None: an ordinary product, skipped)
    "MET-T1": ["MET-1", None],
    "MET-T2": ["MET-2"],
    "MET-T3": ["MET-404"],
    "MET-T4": [None],
}
POISON_EVENT_ID = "evt_" + "f" * 32
SERVICES = {"UpsertCustomers": "autentikapp.v1.CustomerService", "AssignIdentifiers": "autentikapp.v1.IdentifierService",
            "RegisterIdentifiers": "autentikapp.v1.IdentifierService"}


def sale(transaction_id: str, codes: list[str | None]) -> bytes:
    """The guide's example with this transaction id, its own buyer, and these line items."""
    payload = json.loads(EXAMPLE.read_bytes())
    payload["transaction_data"]["transaction_id"] = transaction_id
    payload["customer_data"] = {"email": f"{transaction_id.lower()}@correo-tienda.co"}
    payload["transaction_data"]["line_items"] = [
        {"product_sku": f"SKU-{i}", "product_name": "Bolso", "quantity": 1, "unit_price": 10,
         **({"autentikapp_code": code} if code else {})} for i, code in enumerate(codes)]
    return json.dumps(payload).encode()


def publish_poison(nats_url: str) -> None:
    """A message that is not a WebhookEvent, straight onto the tenant's subject."""
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().publish(bus.subject_for(TENANT), b"not an event", headers=work_message.headers(POISON_EVENT_ID, TENANT))
        finally:
            await nc.close()

    asyncio.run(go())


def value(samples: dict, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist: nothing was counted)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels` (e.g. every status code of a method)."""
    wanted = set(labels.items())
    return sum(v for (sample, pairs), v in samples.items() if sample == name and wanted <= pairs)


def rpc(method: str) -> dict[str, str]:
    """The service and method labels of one of our RPCs."""
    return {"service": SERVICES[method], "method": method}


def test_every_process_counts_the_run_exactly(running_system):
    sut, bodies = run_the_flow(running_system)
    check_gateway(sut.scrape("gateway"), bodies)
    processor = wait_for(lambda: (m := sut.scrape("processor"))
                         and value(m, "autentikapp_processor_consumer_info_timestamp_seconds") > 0
                         and value(m, "autentikapp_processor_consumer_lag_messages") == 0
                         and value(m, "autentikapp_processor_dead_letters") == 1 and m,
                         what="the polled consumer lag to reach 0 and the dead letter to be counted")
    check_processor(processor)
    check_services(processor, sut.scrape("customer_service"), sut.scrape("identifier_service"))


def run_the_flow(sut):
    """The flow above, finished: every sale processed and the poison message dead-lettered; returns the
    system and every body the gateway read."""
    secret = sut.cli("tenants", "create", "--name", "Metrics brand", "--id", TENANT)["secret"]
    sut.cli("identifiers", "register", "--tenant", TENANT, "MET-1", "MET-2")
    bodies = []
    event_ids = []
    for transaction_id, codes in SALES.items():
        body = sale(transaction_id, codes)
        status, _, answer = sut.send(TENANT, secret, body)
        assert status == 202, answer
        bodies.append(body)
        event_ids.append(answer["event_id"])
    refused = sale("MET-T5", ["MET-1"])
    for tenant, key in ((TENANT, "whsec_" + "W" * 43), ("nobody-here", secret)):
        status, _, answer = sut.post(tenant, refused, {"Content-Type": "application/json",
                                                       "X-Autentikapp-Signature": sign(key, refused)})
        assert status == 401, answer
        bodies.append(refused)
    publish_poison(sut.nats.url)
    for event_id in event_ids:
        assert sut.outcome(event_id)["status"] == "processed"
    sut.outcome(POISON_EVENT_ID)
    return sut, bodies


def check_gateway(gateway: dict, bodies: list[bytes]) -> None:
    """Every answer by tenant and status, summed over both workers; the refusals by reason; the bodies
    read; the publishes timed."""
    assert value(gateway, "autentikapp_gateway_webhook_requests_total", tenant=TENANT, status="202") == 4
    assert value(gateway, "autentikapp_gateway_webhook_requests_total", tenant="unknown", status="401") == 2
    assert total(gateway, "autentikapp_gateway_webhook_requests_total") == 6, "no tenant label for a stranger"
    assert value(gateway, "autentikapp_gateway_signature_failures_total", reason="mismatch") == 1
    assert value(gateway, "autentikapp_gateway_signature_failures_total", reason="unknown_tenant") == 1
    assert value(gateway, "autentikapp_gateway_webhook_body_bytes_count") == 6
    assert value(gateway, "autentikapp_gateway_webhook_body_bytes_sum") == sum(len(b) for b in bodies)
    assert value(gateway, "autentikapp_gateway_publish_seconds_count") == 4
    assert 0 < value(gateway, "autentikapp_gateway_publish_seconds_sum") < 4 * 2.0


def check_processor(processor: dict) -> None:
    """Deliveries by result, the dead letter by kind, line items by outcome, one latency per event, and
    the batch calls: every item sent once, every call OK."""
    assert value(processor, "autentikapp_processor_messages_total", result="processed") == 4
    assert value(processor, "autentikapp_processor_messages_total", result="dead_lettered") == 1
    assert total(processor, "autentikapp_processor_messages_total") == 5
    assert value(processor, "autentikapp_processor_dead_lettered_total", kind="permanent") == 1
    assert value(processor, "autentikapp_processor_redeliveries_total") == 0
    for outcome, count in (("assigned", 2), ("unknown_code", 1), ("skipped", 2)):
        assert value(processor, "autentikapp_processor_line_items_total", outcome=outcome) == count, outcome
    assert value(processor, "autentikapp_processor_event_latency_seconds_count") == 4
    assert value(processor, "autentikapp_processor_event_latency_seconds_sum") > 0
    assert value(processor, "autentikapp_processor_consumer_ack_pending_messages") == 0
    # The dead letter's age against the stream's retention: what the alert on retention watches.
    assert value(processor, "autentikapp_processor_dead_letter_max_age_seconds") == bus.DEFAULT_DEAD_LETTER_MAX_AGE_SECONDS
    assert 0 < value(processor, "autentikapp_processor_dead_letter_oldest_age_seconds") < 3600

    for method, items in (("UpsertCustomers", 4), ("AssignIdentifiers", 3)):
        calls = value(processor, "autentikapp_grpc_client_batch_items_count", **rpc(method))
        assert 1 <= calls <= items, method
        assert value(processor, "autentikapp_grpc_client_batch_items_sum", **rpc(method)) == items
        assert value(processor, "autentikapp_grpc_client_calls_total", code="OK", **rpc(method)) == calls
        assert total(processor, "autentikapp_grpc_client_calls_total", **rpc(method)) == calls, "all OK"
        assert value(processor, "autentikapp_grpc_client_call_seconds_count", **rpc(method)) == calls


def check_services(processor: dict, customers: dict, identifiers: dict) -> None:
    """The services handled exactly the calls the processor made, with the same items."""
    for service, method, items in ((customers, "UpsertCustomers", 4), (identifiers, "AssignIdentifiers", 3)):
        calls = value(processor, "autentikapp_grpc_client_calls_total", code="OK", **rpc(method))
        assert value(service, "autentikapp_grpc_server_calls_total", code="OK", **rpc(method)) == calls
        assert value(service, "autentikapp_grpc_server_call_seconds_count", **rpc(method)) == calls
        assert value(service, "autentikapp_grpc_server_batch_items_count", **rpc(method)) == calls
        assert value(service, "autentikapp_grpc_server_batch_items_sum", **rpc(method)) == items
    assert value(identifiers, "autentikapp_grpc_server_calls_total", code="OK",
                 **rpc("RegisterIdentifiers")) == 1, "the CLI's one registration"
    assert value(identifiers, "autentikapp_grpc_server_batch_items_count", **rpc("RegisterIdentifiers")) == 0
