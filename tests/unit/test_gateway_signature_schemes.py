"""Standard Webhooks beside the guide's signature, and the store platforms' endpoints, through the Flask
test client with a fake tenants store and publisher: the spec's published test vectors, the tolerance
both ways, rotation, the tenant that requires timestamps, and what a platform delivery is answered."""

from __future__ import annotations

import base64
import copy
import json
import time

import pytest

from cli.examples import TRANSACTION_CREATED
from common import work_message
from common.errors import Unavailable
from gateway import signature, standard_webhooks
from gateway.app import create_app
from gateway.buyer_rules import BuyerRules
from gateway.platforms import PlatformSettings
from gateway.publisher import Published
from gateway.senders import SHOPIFY, WEBHOOK, WOOCOMMERCE, TenantSenders

# The spec's own test vector (standard-webhooks, libraries/javascript/src/webhook.test.ts "sign function works").
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_" + base64.b64encode(b"unit test secret, never issued!!").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"the rotated-in unit test secret!").decode()
SHOPIFY_SECRET = "shpss_fake_unit_test_secret_0001"
WOO_SECRET = "woo-fake-unit-test-secret-0001"
EXAMPLE = TRANSACTION_CREATED.read_bytes()
URL = "/v1/webhooks/inbound/acme"


class Store:
    """acme with its senders; `down` makes it Unavailable."""

    def __init__(self):
        self.senders_of = {"acme": TenantSenders(secrets={WEBHOOK: (SECRET,), SHOPIFY: (SHOPIFY_SECRET,),
                                                           WOOCOMMERCE: (WOO_SECRET,)})}
        self.down = False

    def senders(self, tenant_id):
        if self.down:
            raise Unavailable("down")
        return self.senders_of.get(tenant_id, TenantSenders())

    def buyer_rules(self, tenant_id):
        return BuyerRules()

    def ping(self, timeout=2.0):
        return True


class Publisher:
    """Stores by message id like JetStream; headers kept for inspection."""

    def __init__(self):
        self.headers: list[dict] = []
        self.ids: dict[str, int] = {}

    def publish(self, subject, data, headers, timeout):
        msg_id = headers[work_message.HEADER_MSG_ID]
        if msg_id in self.ids:
            return Published(True, self.ids[msg_id])
        self.headers.append(headers)
        self.ids[msg_id] = len(self.headers)
        return Published(False, len(self.headers))

    def stored_headers(self, sequence, timeout):
        return self.headers[sequence - 1]

    def is_connected(self):
        return True


@pytest.fixture
def store():
    return Store()


@pytest.fixture
def publisher():
    return Publisher()


@pytest.fixture
def client(store, publisher):
    app = create_app({"SECRET_CACHE_SECONDS": 0, "SIGNATURE_TOLERANCE_SECONDS": 300}, tenant_store=store,
                     publisher=publisher)
    return app.test_client()


def standard_headers(body: bytes, *, secret: str = SECRET, msg_id: str = "msg_1", timestamp: int | None = None,
                     signature_value: str | None = None) -> dict[str, str]:
    """Standard Webhooks headers for `body`, signed now unless told otherwise."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_value or standard_webhooks.sign(secret, msg_id, timestamp, body)}


def test_the_specs_published_vector():
    assert standard_webhooks.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    assert standard_webhooks.verify([SPEC_SECRET], SPEC_BODY, SPEC_ID, str(SPEC_TIMESTAMP), SPEC_SIGNATURE)


def test_the_specs_multi_signature_header_is_valid_when_one_entry_is():
    """The spec's "multi sig payload is valid": other versions and wrong signatures around the right one."""
    wrong = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    header = " ".join([wrong, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", SPEC_SIGNATURE, wrong])
    assert standard_webhooks.verify([SPEC_SECRET], SPEC_BODY, SPEC_ID, str(SPEC_TIMESTAMP), header)
    assert not standard_webhooks.verify([SPEC_SECRET], SPEC_BODY, SPEC_ID, str(SPEC_TIMESTAMP), wrong)


@pytest.mark.parametrize("change", ["body", "id", "timestamp", "secret", "partial"])
def test_the_vector_fails_when_anything_signed_changes(change):
    body, msg_id, timestamp, header, secrets = SPEC_BODY, SPEC_ID, str(SPEC_TIMESTAMP), SPEC_SIGNATURE, [SPEC_SECRET]
    if change == "body":
        body = b'{"test": 2432232315}'
    elif change == "id":
        msg_id = SPEC_ID + "x"
    elif change == "timestamp":
        timestamp = str(SPEC_TIMESTAMP + 1)
    elif change == "secret":
        secrets = [SECRET]
    else:
        header = SPEC_SIGNATURE[:8]
    assert not standard_webhooks.verify(secrets, body, msg_id, timestamp, header)


def test_an_unknown_tenant_never_matches_and_a_non_base64_secret_is_unusable():
    assert not standard_webhooks.verify([], SPEC_BODY, SPEC_ID, str(SPEC_TIMESTAMP), SPEC_SIGNATURE)
    assert standard_webhooks.key_of("whsec_not base64!") is None
    with pytest.raises(ValueError):
        standard_webhooks.sign("whsec_not base64!", "msg", 1, b"")


def test_the_clock_tolerance_holds_both_ways_and_says_which():
    now = 1_800_000_000
    ok = standard_webhooks.check_headers("msg_1", str(now - 300), "v1,AAAA", now, 300)
    assert ok is None
    behind = standard_webhooks.check_headers("msg_1", str(now - 301), "v1,AAAA", now, 300)
    ahead = standard_webhooks.check_headers("msg_1", str(now + 301), "v1,AAAA", now, 300)
    assert behind.reason == ahead.reason == "stale_timestamp"
    assert "301 seconds behind" in behind.detail and "301 seconds ahead of" in ahead.detail
    assert "clock" in behind.detail


def test_standard_webhooks_sale_is_accepted_and_its_message_names_the_scheme_and_id(client, publisher):
    answer = client.post(URL, data=EXAMPLE, headers=standard_headers(EXAMPLE, msg_id="msg_abc"))
    assert answer.status_code == 202, answer.get_json()
    headers = publisher.headers[0]
    assert headers[work_message.HEADER_SOURCE] == "standard-webhooks"
    assert headers[work_message.HEADER_DELIVERY_ID] == "msg_abc"


def test_a_retry_with_the_same_webhook_id_a_fresh_timestamp_and_signature_is_a_duplicate(client, publisher):
    first = client.post(URL, data=EXAMPLE, headers=standard_headers(EXAMPLE, timestamp=int(time.time()) - 100))
    retry = client.post(URL, data=EXAMPLE, headers=standard_headers(EXAMPLE))
    assert (first.status_code, retry.status_code) == (202, 202)
    assert first.get_json()["duplicate"] is False and retry.get_json() == {**first.get_json(), "duplicate": True}
    assert len(publisher.headers) == 1


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_outside_the_tolerance_is_a_401_about_the_clock(client, publisher, offset):
    answer = client.post(URL, data=EXAMPLE, headers=standard_headers(EXAMPLE, timestamp=int(time.time()) + offset))
    assert answer.status_code == 401
    assert "clock" in answer.get_json()["detail"] and publisher.headers == []


def test_two_active_secrets_both_work_while_rotating_and_one_header_may_carry_both(client, store):
    store.senders_of["acme"] = TenantSenders(secrets={WEBHOOK: (SECRET, NEW_SECRET)})
    body = EXAMPLE.replace(b"FACT-00123", b"FACT-ROTATE")
    now = int(time.time())
    both = " ".join(standard_webhooks.sign(s, "msg_r", now, body) for s in (SECRET, NEW_SECRET))
    for headers in (standard_headers(body, secret=SECRET, msg_id="msg_r"),
                    standard_headers(body, secret=NEW_SECRET, msg_id="msg_r"),
                    standard_headers(body, msg_id="msg_r", timestamp=now, signature_value=both)):
        assert client.post(URL, data=body, headers=headers).status_code == 202
    store.senders_of["acme"] = TenantSenders(secrets={WEBHOOK: (NEW_SECRET,)})  # the old one revoked
    assert client.post(URL, data=body, headers=standard_headers(body, secret=SECRET)).status_code == 401


def test_any_standard_webhooks_header_selects_that_scheme_alone(client):
    """A valid guide signature does not rescue a broken Standard Webhooks request."""
    headers = {"Content-Type": "application/json", signature.HEADER: signature.sign(SECRET, EXAMPLE),
               "webhook-id": "msg_1"}
    answer = client.post(URL, data=EXAMPLE, headers=headers)
    assert answer.status_code == 401 and "webhook-timestamp, webhook-signature missing" in answer.get_json()["detail"]


def test_a_tenant_that_requires_timestamps_refuses_the_guide_header_and_says_so_only_to_its_secret_holder(
        client, store):
    store.senders_of["acme"] = TenantSenders(secrets={WEBHOOK: (SECRET,)}, require_timestamped=True)
    guide = {"Content-Type": "application/json", signature.HEADER: signature.sign(SECRET, EXAMPLE)}
    refused = client.post(URL, data=EXAMPLE, headers=guide)
    assert refused.status_code == 401 and "requires timestamped signatures" in refused.get_json()["detail"]
    wrong = {"Content-Type": "application/json", signature.HEADER: signature.sign(NEW_SECRET, EXAMPLE)}
    unknown = client.post("/v1/webhooks/inbound/nobody", data=EXAMPLE, headers=wrong)
    wrong_answer = client.post(URL, data=EXAMPLE, headers=wrong)
    assert wrong_answer.get_json()["detail"] == unknown.get_json()["detail"]
    assert "timestamped" not in wrong_answer.get_json()["detail"]
    assert client.post(URL, data=EXAMPLE, headers=standard_headers(EXAMPLE)).status_code == 202


def test_the_guide_signature_keeps_working_unchanged(client, publisher):
    guide = {"Content-Type": "application/json", signature.HEADER: signature.sign(SECRET, EXAMPLE)}
    assert client.post(URL, data=EXAMPLE, headers=guide).status_code == 202
    assert publisher.headers[0][work_message.HEADER_SOURCE] == "autentikapp"


# Store platforms -------------------------------------------------------------------------------------------

SHOPIFY_ORDER = {
    "id": 820982911946154508, "email": "jon@example.com", "created_at": "2025-09-13T09:30:00-05:00",
    "currency": "COP", "total_price": "950000.00", "phone": None,
    "customer": {"first_name": "Jon", "last_name": "Snow", "email": "jon@example.com"},
    "note_attributes": [{"name": "national_id", "value": "1.020.304.050"}],
    "line_items": [
        {"id": 1, "sku": "BOLSO-01", "title": "Bolso", "quantity": 1, "price": "950000.00",
         "properties": [{"name": "autentikapp_code", "value": "a1b2c3d4-e5f6-7890-1234-567890abcdef"}]},
        {"id": 2, "sku": "GIFT", "title": "Gift wrap", "quantity": 1, "price": "0.00", "properties": []},
    ],
}


def shopify_post(client, document, *, secret=SHOPIFY_SECRET, topic="orders/create", tenant="acme"):
    body = json.dumps(document).encode()
    return client.post(f"/v1/webhooks/shopify/{tenant}", data=body, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": "b54557e4",
        "X-Shopify-Hmac-Sha256": signature.sign_base64(secret, body)})


def test_a_shopify_order_becomes_the_guides_sale(client, publisher):
    answer = shopify_post(client, SHOPIFY_ORDER)
    assert answer.status_code == 202, answer.get_json()
    assert publisher.headers[0][work_message.HEADER_SOURCE] == "shopify"
    assert publisher.headers[0][work_message.HEADER_DELIVERY_ID] == "b54557e4"


def test_shopify_is_keyed_by_its_own_secret_never_the_whsec_one(client, publisher):
    for secret in (SECRET, WOO_SECRET):
        answer = shopify_post(client, SHOPIFY_ORDER, secret=secret)
        assert answer.status_code == 401 and "X-Shopify-Hmac-Sha256" in answer.get_json()["detail"]
    unknown = shopify_post(client, SHOPIFY_ORDER, tenant="nobody")
    assert unknown.status_code == 401 and publisher.headers == []


def test_an_order_without_coded_products_is_answered_200_ignored_and_nothing_is_published(client, publisher):
    order = copy.deepcopy(SHOPIFY_ORDER)
    order["line_items"] = order["line_items"][1:]
    answer = shopify_post(client, order)
    assert answer.status_code == 200 and answer.get_json()["status"] == "ignored"
    assert "autentikapp_code" in answer.get_json()["reason"] and publisher.headers == []


def test_a_payload_rule_broken_in_a_platform_body_names_the_platforms_field(client):
    order = copy.deepcopy(SHOPIFY_ORDER)
    order["email"] = "not an e-mail"
    order["customer"]["email"] = "not an e-mail"
    answer = shopify_post(client, order)
    assert answer.status_code == 422
    fields = [error["field"] for error in answer.get_json()["errors"]]
    assert fields and all(not field.startswith("customer_data") for field in fields), fields


def test_a_tenants_own_code_key_is_read(client, store, publisher):
    store.senders_of["acme"] = TenantSenders(secrets={SHOPIFY: (SHOPIFY_SECRET,)},
                                             platforms={SHOPIFY: PlatformSettings(code_key="serial")})
    assert shopify_post(client, SHOPIFY_ORDER).status_code == 200  # nothing under "serial"
    order = copy.deepcopy(SHOPIFY_ORDER)
    order["line_items"][0]["properties"][0]["name"] = "serial"
    assert shopify_post(client, order).status_code == 202


def test_a_later_version_of_an_accepted_order_is_200_ignored_not_an_error_a_platform_would_count(client):
    assert shopify_post(client, SHOPIFY_ORDER).status_code == 202
    assert shopify_post(client, SHOPIFY_ORDER).get_json()["duplicate"] is True
    edited = copy.deepcopy(SHOPIFY_ORDER)
    edited["line_items"][0]["quantity"] = 2
    answer = shopify_post(client, edited)
    assert answer.status_code == 200 and answer.get_json()["status"] == "ignored"
    assert "accepted first stands" in answer.get_json()["reason"]


def test_a_platform_delivery_without_its_topic_is_a_400(client):
    body = json.dumps(SHOPIFY_ORDER).encode()
    answer = client.post("/v1/webhooks/shopify/acme", data=body, headers={
        "Content-Type": "application/json", "X-Shopify-Hmac-Sha256": signature.sign_base64(SHOPIFY_SECRET, body)})
    assert answer.status_code == 400 and "X-Shopify-Topic" in answer.get_json()["detail"]


@pytest.mark.parametrize("tenant", ["acme", "nobody"])
def test_the_woocommerce_ping_is_200_for_any_tenant_and_publishes_nothing(client, publisher, tenant):
    answer = client.post(f"/v1/webhooks/woocommerce/{tenant}", data=b"webhook_id=42",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and publisher.headers == []


def test_a_form_body_that_is_not_the_ping_is_refused_like_any_unsigned_request(client):
    answer = client.post("/v1/webhooks/woocommerce/acme", data=b"webhook_id=42&x=1",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 401
