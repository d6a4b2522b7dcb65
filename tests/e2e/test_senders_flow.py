"""Every way a sale can be sent, through the real system to linked codes: Standard Webhooks (signed by the
CLI with the secret from the environment), a Shopify order and its refund, a WooCommerce order, each
from the platforms' own sample payloads, and the tenant that requires timestamped signatures. The tests
share one system (shared_system): each has a tenant of its own."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

from system_support import EXAMPLE, sign, wait_for

from autentikapp.v1 import identifier_pb2
from gateway import signature

FIXTURES = Path(__file__).parent.parent / "fixtures" / "platforms"
EXAMPLE_CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"
SHOPIFY_SECRET = "shpss_fake_e2e_secret_never_issued"  # a test value, as Shopify would issue one


def new_tenant(sut, tenant_id: str) -> str:
    """A tenant created with the CLI; its whsec_ secret."""
    return sut.cli("tenants", "create", "--name", f"{tenant_id} brand", "--id", tenant_id)["secret"]


def holder(sut, tenant_id: str, code: str) -> str:
    """The customer a code is linked to, once it is ("" while free)."""
    return sut.stub("identifier_service").GetIdentifier(
        identifier_pb2.GetIdentifierRequest(tenant_id=tenant_id, code=code)).identifier.customer_id


def outcome(sut, event_id: str) -> dict:
    """The processor's recorded outcome of an event, once there is one."""
    return sut.outcome(event_id)


def cli_send(sut, *args: str, secret: str) -> dict:
    """`autentikapp webhook send` with the secret in the environment, never in argv; its parsed answer."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("autentikapp")), "--json", "webhook", "send", "--url", sut.base_url,
         *args], env={**os.environ, **sut.env, "AUTENTIKAPP_WEBHOOK_SECRET": secret},
        capture_output=True, text=True, timeout=60)
    assert secret not in result.stdout + result.stderr
    return json.loads(result.stdout)


def platform_post(sut, platform: str, tenant_id: str, secret: str, document: dict, topic: str):
    """A delivery signed as the platform signs it: base64 HMAC-SHA256 of the body under its secret."""
    body = json.dumps(document).encode()
    headers = {"shopify": {"X-Shopify-Hmac-Sha256": signature.sign_base64(secret, body), "X-Shopify-Topic": topic,
                           "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"},
               "woocommerce": {"X-WC-Webhook-Signature": signature.sign_base64(secret, body),
                               "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Delivery-ID": "1234"}}[platform]
    return sut.post(tenant_id, body, {"Content-Type": "application/json", **headers},
                    path=f"/v1/webhooks/{platform}/{tenant_id}")


def test_a_sale_signed_with_standard_webhooks_by_the_cli_links_its_code(shared_system):
    sut = shared_system
    secret = new_tenant(sut, "acme")
    sut.cli("identifiers", "register", "--tenant", "acme", EXAMPLE_CODE)

    answer = cli_send(sut, "--tenant", "acme", "--example", "--webhook-id", "msg_e2e_1", secret=secret)
    assert answer["status"] == 202, answer
    recorded = outcome(sut, answer["body"]["event_id"])
    assert [item["outcome"] for item in recorded["line_items"]] == ["assigned"]
    retry = cli_send(sut, "--tenant", "acme", "--example", "--webhook-id", "msg_e2e_1", secret=secret)
    assert retry["status"] == 202 and retry["body"]["duplicate"] is True


def test_a_tenant_that_requires_timestamps_refuses_the_guides_header_alone(shared_system):
    sut = shared_system
    secret = new_tenant(sut, "strict")
    assert sut.cli("tenants", "signing", "strict", "--require-timestamped")["require_timestamped"] is True
    # The gateway's cache (GATEWAY_SECRET_CACHE_SECONDS) may hold the old setting for a while: wait for it.
    refused = wait_for(lambda: (r := sut.send("strict", secret, EXAMPLE.read_bytes()))[0] == 401 and r,
                       what="the requirement to apply")
    assert "requires timestamped signatures" in refused[2]["detail"]
    answer = cli_send(sut, "--tenant", "strict", "--example", secret=secret)
    assert answer["status"] == 202


def test_a_shopify_order_links_its_coded_products_and_its_refund_releases_one(shared_system):
    sut = shared_system
    new_tenant(sut, "shop")
    codes = {466157049: "SHOPIFY-CODE-0001", 518995019: "SHOPIFY-CODE-0002"}
    sut.cli("identifiers", "register", "--tenant", "shop", *codes.values())
    added = subprocess.run(
        [str(Path(sys.executable).with_name("autentikapp")), "--json", "tenants", "secrets", "add", "shop",
         "--platform", "shopify", "--secret-env", "SHOPIFY_APP_SECRET"],
        env={**os.environ, **sut.env, "SHOPIFY_APP_SECRET": SHOPIFY_SECRET}, capture_output=True, text=True,
        timeout=60)
    assert added.returncode == 0, added.stderr
    assert SHOPIFY_SECRET not in added.stdout and json.loads(added.stdout)["platform"] == "shopify"

    order = json.loads((FIXTURES / "shopify_orders_create.json").read_text())["order"]
    order["created_at"] = "2025-09-13T09:30:00-05:00"
    for item in order["line_items"]:
        if item["id"] in codes:
            item["properties"] = [*item["properties"], {"name": "autentikapp_code", "value": codes[item["id"]]}]
    status, _, body = wait_for(lambda: (r := platform_post(sut, "shopify", "shop", SHOPIFY_SECRET, order,
                                                           "orders/create"))[0] != 401 and r,
                               what="the shopify secret to apply")
    assert status == 202, body
    recorded = outcome(sut, body["event_id"])
    assert sorted(item["outcome"] for item in recorded["line_items"] if item["outcome"] != "skipped") == \
        ["assigned", "assigned"]
    buyer = holder(sut, "shop", codes[466157049])
    assert buyer and holder(sut, "shop", codes[518995019]) == buyer

    refund = json.loads((FIXTURES / "shopify_refunds_create.json").read_text())["refund"]
    refund["created_at"] = "2025-09-14T10:00:00-05:00"
    for entry in refund["refund_line_items"]:
        if entry["line_item_id"] == 466157049:
            entry["line_item"]["properties"] = [*entry["line_item"]["properties"],
                                                {"name": "autentikapp_code", "value": codes[466157049]}]
    status, _, body = platform_post(sut, "shopify", "shop", SHOPIFY_SECRET, refund, "refunds/create")
    assert status == 202, body
    released = outcome(sut, body["event_id"])
    assert [item["outcome"] for item in released["line_items"]] == ["released"]
    assert holder(sut, "shop", codes[466157049]) == "" and holder(sut, "shop", codes[518995019]) == buyer


def test_a_paid_woocommerce_order_links_its_code_and_the_ping_is_answered(shared_system):
    sut = shared_system
    new_tenant(sut, "woo")
    sut.cli("identifiers", "register", "--tenant", "woo", "WOO-CODE-0001")
    secret = sut.cli("tenants", "secrets", "add", "woo", "--platform", "woocommerce")["secret"]  # generated

    ping = sut.post("woo", b"webhook_id=7", {"Content-Type": "application/x-www-form-urlencoded"},
                    path="/v1/webhooks/woocommerce/woo")
    assert ping[0] == 200

    order = json.loads((FIXTURES / "woocommerce_order.json").read_text())
    order["line_items"][1]["meta_data"].append({"id": 9001, "key": "autentikapp_code", "value": "WOO-CODE-0001"})
    # The sample's buyer (john.doe@example.com, (555) 555-5555) is a placeholder that identifies nobody: its
    # items would be unidentified_buyer (docs/buyer-identity.md). A real buyer's e-mail instead:
    order["billing"]["email"] = "john.doe@correo.com.co"
    pending = copy.deepcopy(order)
    pending["status"] = "pending"
    status, _, body = wait_for(lambda: (r := platform_post(sut, "woocommerce", "woo", secret, pending,
                                                           "order.created"))[0] != 401 and r,
                               what="the woocommerce secret to apply")
    assert (status, body["status"]) == (200, "ignored"), body  # not paid: nothing to link yet

    status, _, body = platform_post(sut, "woocommerce", "woo", secret, order, "order.updated")
    assert status == 202, body
    recorded = outcome(sut, body["event_id"])
    assert [item["outcome"] for item in recorded["line_items"] if item["outcome"] != "skipped"] == ["assigned"]
    assert holder(sut, "woo", "WOO-CODE-0001")


def test_the_guides_signature_still_links_a_sale(shared_system):
    sut = shared_system
    secret = new_tenant(sut, "guide")
    sut.cli("identifiers", "register", "--tenant", "guide", EXAMPLE_CODE)
    status, _, body = sut.post("guide", EXAMPLE.read_bytes(), {
        "Content-Type": "application/json", "X-Autentikapp-Signature": sign(secret, EXAMPLE.read_bytes())})
    assert status == 202
    assert [item["outcome"] for item in outcome(sut, body["event_id"])["line_items"]] == ["assigned"]
