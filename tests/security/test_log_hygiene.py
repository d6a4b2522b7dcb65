"""Secrets and personal data never reach a log.

A small flow through the real system with LOG_FORMAT=json: two accepted sales (signed with each of a
tenant's two active secrets), refused ones (wrong signature, unknown tenant, a bad e-mail, a bad
national id, broken JSON), and two dead-lettered messages (one a service refuses, one that is not an
event at all), each carrying a buyer's personal data. The other signature schemes too: a Standard
Webhooks sale accepted and its replay, and refused ones (wrong signature, an hour old); a Shopify and a
WooCommerce order accepted under the tenant's platform secrets, refused ones (wrong secret, the whsec_
secret as the platform's key), a topic that is not read, and WooCommerce's unsigned ping. Then every process is stopped (so shutdown
lines are in too) and every log file is read: the gateway, the processor, both services and NATS.
None may contain a tenant's secret, a signature that was sent, an encryption key from the
environment, or any of the buyers' e-mails, phone numbers, national ids or names, in the form sent
or normalised.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets as random_secrets
import time
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from security_support import stream_messages
from system_support import sign, wait_for

from autentikapp.v1 import customer_pb2, events_pb2
from common import bus, work_message
from common.timestamps import now, to_timestamp

SYSTEM_ENV = {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
TENANT = "hygiene"
BUYER = {"national_id": "ZQ-8675-309K", "email": "Zebulonia.Quixotefield@buzon.co",
         "phone_number": "+57 300 111 2233", "first_name": "Zebulonia", "last_name": "Quixotefield",
         "whatsapp_number": "+57 311 444 5566"}
# Each value sent, and the forms the system normalises it to.
BUYER_FORMS = ["ZQ-8675-309K", "ZQ8675309K", "Zebulonia.Quixotefield@buzon.co", "+57 300 111 2233",
               "+573001112233", "3001112233", "Zebulonia", "Quixotefield", "+57 311 444 5566", "+573114445566",
               "3114445566"]
ROTATED_BUYER = {"email": "Rotatedbuyer.Person@buzon.co", "first_name": "Rotatedbuyer"}
UNSIGNED_BUYER = {"email": "Forgedsender.Victim@buzon.co", "national_id": "FSV-424242", "first_name": "Forgedsender"}
BAD_EMAIL_BUYER = {"email": "Bademailperson@@buzon.co", "first_name": "Bademailperson",
                   "phone_number": "+573009998877"}
BAD_ID_BUYER = {"national_id": "BAD-ID-Xylophant!", "first_name": "Xylophant"}
BROKEN_JSON = b'{"customer_data": {"email": "Malformedperson@buzon.co", "first_name": "Malformedperson"'
DEAD_BUYER = {"email": "Deadletter.Victim@@buzon.co", "national_id": "DLV-5550199", "first_name": "Deadlettervictim"}
GARBAGE = b'not an event: {"email": "Garbage.Sender@buzon.co", "phone_number": "+573005550123"}'
SW_BUYER = {"email": "Standardwebhooks.Buyer@buzon.co", "national_id": "SWB-777-31", "first_name": "Stanwebby"}
SHOPIFY_BUYER = {"email": "Shopifyana.Compradora@buzon.co", "phone": "+57 300 777 8899", "first_name": "Shopifyana",
                 "last_name": "Compradorez"}
WOO_BUYER = {"email": "Woocarlos.Cliente@buzon.co", "phone": "+57 310 222 4466", "first_name": "Woocarlos",
             "last_name": "Clientovich"}
PLATFORM_FORMS = ["Standardwebhooks.Buyer@buzon.co", "SWB-777-31", "SWB77731", "Stanwebby",
                  "Shopifyana.Compradora@buzon.co", "+57 300 777 8899", "+573007778899", "3007778899", "Shopifyana",
                  "Compradorez", "SHP-5150-99", "SHP515099", "Woocarlos.Cliente@buzon.co", "+57 310 222 4466",
                  "+573102224466", "3102224466", "Woocarlos", "Clientovich", "WOO-6060-42", "WOO606042"]
PERSONAL = [*BUYER_FORMS, *PLATFORM_FORMS, "Rotatedbuyer.Person@buzon.co", "Rotatedbuyer", "Forgedsender.Victim@buzon.co",
            "FSV-424242", "FSV424242", "Forgedsender", "Bademailperson@@buzon.co", "Bademailperson", "+573009998877",
            "BAD-ID-Xylophant!", "Xylophant", "Malformedperson@buzon.co", "Malformedperson",
            "Deadletter.Victim@@buzon.co", "DLV-5550199", "DLV5550199", "Deadlettervictim",
            "Garbage.Sender@buzon.co", "+573005550123"]


def sale(transaction_id: str, customer: dict, code: str | None = None) -> bytes:
    items = [{"product_sku": "SKU-H", "product_name": "Bolso", "quantity": 1, "unit_price": 10,
              **({"autentikapp_code": code} if code else {})}]
    return json.dumps({"event_type": "transaction.created", "event_timestamp": "2025-09-13T14:30:00Z",
                       "customer_data": customer,
                       "transaction_data": {"transaction_id": transaction_id, "line_items": items}}).encode()


def publish_raw(nats_url: str, event_id: str, data: bytes) -> None:
    """Put a message on the bus directly, as a buggy or compromised publisher could."""
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().publish(bus.subject_for(TENANT), data, headers=work_message.headers(event_id, TENANT))
        finally:
            await nc.close()

    asyncio.run(go())


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The base64 part of `v1,<base64>` (Standard Webhooks: HMAC of id.timestamp.body under the decoded whsec_)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()


def platform_signature(secret: str, body: bytes) -> str:
    """Shopify's and WooCommerce's signature: base64 HMAC-SHA256 of the body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_order(order_id: int, code: str) -> bytes:
    return json.dumps({"id": order_id, "created_at": "2025-09-13T09:30:00-05:00", "currency": "COP",
                       "total_price": "10.00", "email": SHOPIFY_BUYER["email"], "phone": SHOPIFY_BUYER["phone"],
                       "customer": {"first_name": SHOPIFY_BUYER["first_name"], "last_name": SHOPIFY_BUYER["last_name"]},
                       "billing_address": {"country_code": "CO"},
                       "note_attributes": [{"name": "national_id", "value": "SHP-5150-99"}],
                       "line_items": [{"sku": "SKU-H", "title": "Bolso", "quantity": 1, "price": "10.00",
                                       "properties": [{"name": "autentikapp_code", "value": code}]}]}).encode()


def woo_order(order_id: int, code: str) -> bytes:
    return json.dumps({"id": order_id, "status": "processing", "currency": "COP", "total": "10.00",
                       "date_created_gmt": "2025-09-13T19:28:08", "date_paid_gmt": "2025-09-13T19:28:08",
                       "billing": {**{k: v for k, v in WOO_BUYER.items()}, "country": "CO"},
                       "meta_data": [{"key": "national_id", "value": "WOO-6060-42"}],
                       "line_items": [{"sku": "SKU-H", "name": "Bolso", "quantity": 1, "price": 10,
                                       "meta_data": [{"key": "autentikapp_code", "value": code}]}]}).encode()


@dataclass
class Logs:
    """Every log file of the run, and what must not be in any of them."""

    files: dict[str, str]
    secrets: list[str]
    signatures: list[str]
    event_ids: dict[str, str]


@pytest.fixture(scope="module")
def logs(module_system, tmp_path_factory) -> Logs:
    sut = module_system
    first = sut.cli("tenants", "create", "--name", "Hygiene brand", "--id", TENANT)["secret"]
    second = sut.cli("tenants", "secrets", "add", TENANT)["secret"]
    shopify_file = tmp_path_factory.mktemp("shopify") / "secret"
    shopify_file.write_text("shpss_" + random_secrets.token_hex(16))
    sut.cli("tenants", "secrets", "add", TENANT, "--platform", "shopify", "--secret-file", str(shopify_file))
    shopify_secret = shopify_file.read_text()
    woo_secret = sut.cli("tenants", "secrets", "add", TENANT, "--platform", "woocommerce")["secret"]
    sut.cli("identifiers", "register", "--tenant", TENANT, "HYG-1", "HYG-2", "HYG-SW", "HYG-SHOP", "HYG-WOO")
    wrong_secret = "whsec_" + "W" * 43
    wrong_standard_secret = "whsec_" + base64.b64encode(b"wrong standard webhooks secret!!").decode()
    signatures: list[str] = []
    events: dict[str, str] = {}

    def post(name: str, tenant: str, secret: str, body: bytes, expected: int) -> None:
        signature = sign(secret, body)
        signatures.append(signature)
        status, _, answer = sut.post(tenant, body, {"Content-Type": "application/json",
                                                    "X-Autentikapp-Signature": signature})
        assert status == expected, (name, answer)
        if status == 202:
            events[name] = answer["event_id"]

    post("valid", TENANT, first, sale("HYG-T1", BUYER, "HYG-1"), 202)
    post("rotated", TENANT, second, sale("HYG-T2", ROTATED_BUYER, "HYG-2"), 202)
    post("wrong secret", TENANT, wrong_secret, sale("HYG-T3", UNSIGNED_BUYER), 401)
    post("unknown tenant", "nobody-here", first, sale("HYG-T4", UNSIGNED_BUYER), 401)
    post("bad email", TENANT, first, sale("HYG-T5", BAD_EMAIL_BUYER), 422)
    post("bad national id", TENANT, first, sale("HYG-T6", BAD_ID_BUYER), 422)
    post("broken json", TENANT, first, BROKEN_JSON, 400)

    def post_standard(name: str, secret: str, body: bytes, expected: int, age: int = 0) -> None:
        msg_id, timestamp = f"msg_hygiene_{name.replace(' ', '_')}", int(time.time()) - age
        signature = standard_signature(secret, msg_id, timestamp, body)
        signatures.append(signature)
        status, _, answer = sut.post(TENANT, body, {"Content-Type": "application/json", "webhook-id": msg_id,
                                                    "webhook-timestamp": str(timestamp),
                                                    "webhook-signature": f"v1,{signature}"})
        assert status == expected, (name, answer)
        if status == 202 and not answer["duplicate"]:
            events[name] = answer["event_id"]

    sw_sale = sale("HYG-T7", SW_BUYER, "HYG-SW")
    post_standard("standard webhooks", first, sw_sale, 202)
    post_standard("standard webhooks replay", first, sw_sale, 202)
    post_standard("standard webhooks wrong secret", wrong_standard_secret, sale("HYG-T8", SW_BUYER), 401)
    post_standard("standard webhooks an hour old", first, sale("HYG-T9", SW_BUYER), 401, age=3600)

    def post_platform(name: str, platform: str, secret: str, body: bytes, expected: int, topic: str = "") -> None:
        signature = platform_signature(secret, body)
        signatures.append(signature)
        header, topic_header, sale_topic = {
            "shopify": ("X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "orders/create"),
            "woocommerce": ("X-WC-Webhook-Signature", "X-WC-Webhook-Topic", "order.created")}[platform]
        status, _, answer = sut.post(TENANT, body, {"Content-Type": "application/json", header: signature,
                                                    topic_header: topic or sale_topic},
                                     path=f"/v1/webhooks/{platform}/{TENANT}")
        assert status == expected, (name, answer)
        if status == 202:
            events[name] = answer["event_id"]

    post_platform("shopify", "shopify", shopify_secret, shopify_order(1001, "HYG-SHOP"), 202)
    post_platform("shopify wrong secret", "shopify", "shpss_" + "W" * 32, shopify_order(1002, "HYG-SHOP"), 401)
    post_platform("shopify whsec as key", "shopify", first, shopify_order(1003, "HYG-SHOP"), 401)
    post_platform("shopify unread topic", "shopify", shopify_secret, shopify_order(1004, "HYG-SHOP"), 200,
                  topic="customers/create")
    post_platform("woocommerce", "woocommerce", woo_secret, woo_order(2001, "HYG-WOO"), 202)
    post_platform("woocommerce shopify secret", "woocommerce", shopify_secret, woo_order(2002, "HYG-WOO"), 401)
    status, _, _ = sut.post(TENANT, b"webhook_id=7", {"Content-Type": "application/x-www-form-urlencoded"},
                            path=f"/v1/webhooks/woocommerce/{TENANT}")
    assert status == 200, "WooCommerce's ping"
    for name in ("valid", "rotated", "standard webhooks", "shopify", "woocommerce"):
        assert sut.outcome(events[name])["status"] == "processed"
    found = sut.stub("customer_service").FindCustomer(customer_pb2.FindCustomerRequest(
        tenant_id=TENANT, email=BUYER["email"].lower())).customer
    assert found.national_id == "ZQ8675309K", "the buyer really went through every process"

    dead = events_pb2.WebhookEvent(
        schema_version=1, event_id="evt_" + "d" * 32, tenant_id=TENANT, received_at=to_timestamp(now()),
        sale=events_pb2.Sale(event_type="transaction.created", transaction_id="HYG-DEAD",
                             customer=customer_pb2.CustomerData(**DEAD_BUYER), event_timestamp=to_timestamp(now())),
        raw_body=sale("HYG-DEAD", DEAD_BUYER))
    publish_raw(sut.nats.url, dead.event_id, dead.SerializeToString())
    publish_raw(sut.nats.url, "evt_" + "e" * 32, GARBAGE)
    events["dead"], events["garbage"] = dead.event_id, "evt_" + "e" * 32
    wait_for(lambda: stream_messages(sut.nats.url, bus.DEAD_LETTER_STREAM) == 2, what="both messages dead-lettered")
    assert sut.cli("events", "show", dead.event_id)["status"] == "dead_lettered"

    sut.group.stop_all()  # shutdown lines too
    paths = sorted(sut.group.log_dir.glob("*.log")) + [Path(sut.nats.log_path)]
    files = {path.name: path.read_text(errors="replace") for path in paths if path.exists()}
    env_secrets = [piece for key, value in sut.env.items() if re.search(r"SECRET|KEY|PASSWORD|TOKEN", key)
                   for piece in {value, *re.split(r"[,:]", value)} if len(piece) >= 16]  # e.g. "id:key,id:key"
    return Logs(files, [first, second, wrong_secret, wrong_standard_secret, shopify_secret, woo_secret, *env_secrets], signatures, events)


PROCESS_LOGS = ("gateway.log", "processor.log", "customer_service.log", "identifier_service.log")


def json_lines(text: str) -> list[dict]:
    """A process log's records (the lines devstack writes between runs, `=== ... start: ...`, left out)."""
    return [json.loads(line) for line in text.splitlines() if line.strip() and not line.startswith("=== ")]


def test_every_process_logged_the_flow(logs):
    assert set(PROCESS_LOGS) <= set(logs.files)
    gateway_lines = json_lines(logs.files["gateway.log"])
    statuses = {line.get("status") for line in gateway_lines}
    assert {202, 401, 422, 400} <= statuses, "the access log has a line for every answer"
    assert all(event_id in logs.files["processor.log"] for event_id in logs.event_ids.values())
    assert "dead-lettered" in logs.files["processor.log"]


def test_with_log_format_json_every_line_of_every_process_is_one_json_object(logs):
    for name in PROCESS_LOGS:
        assert all({"ts", "level", "service", "msg"} <= set(line) for line in json_lines(logs.files[name])), name


def test_an_event_is_followed_by_its_ids_through_all_four_processes(logs):
    event_id = logs.event_ids["valid"]
    for name in PROCESS_LOGS:
        lines = [line for line in json_lines(logs.files[name]) if line.get("event_id") == event_id]
        assert lines and all(line["tenant_id"] == TENANT for line in lines), name
    [customer] = [line for line in json_lines(logs.files["customer_service.log"]) if line.get("event_id") == event_id]
    assert customer["customer"] == "created" and customer["clashes"] == 0
    assert (customer["email"], customer["phone_number"], customer["national_id"]) == (
        "z***@buzon.co", "***2233", "***09K"), "the buyer is named only masked"
    [assignment] = [line for line in json_lines(logs.files["identifier_service.log"])
                    if line.get("event_id") == event_id]
    assert (assignment["codes"], assignment["customer_id"]) == (
        [{"code": "HYG-1", "outcome": "assigned"}], customer["customer_id"])


@pytest.mark.parametrize("kind", ["secret", "signature", "personal data"])
def test_no_log_contains_secrets_signatures_or_personal_data(logs, kind):
    needles = {"secret": logs.secrets, "signature": logs.signatures, "personal data": PERSONAL}[kind]
    leaks = [(name, needle) for name, text in logs.files.items() for needle in needles
             if needle.lower() in text.lower()]
    assert not leaks, "\n".join(f"{name} contains {needle!r}: ...{_around(logs.files[name], needle)}..."
                                for name, needle in leaks)


def _around(text: str, needle: str, width: int = 160) -> str:
    at = text.lower().index(needle.lower())
    return text[max(0, at - width):at + len(needle) + width]
