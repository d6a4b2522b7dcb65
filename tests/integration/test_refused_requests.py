"""The real app (Flask test client) with a real tenants database and a real NATS: what each refusal
leaves in the tenant's record of refused requests (docs/design.md "Refused requests"), and what it never
does: a body, a signature, a header value, a field's value, a row for a tenant that does not exist."""

from __future__ import annotations

import base64
import copy
import json
import time

import pytest
from metrics_support import Counts

from cli.examples import TRANSACTION_CREATED
from common import bus
from gateway import signature, standard_webhooks
from gateway.app import close_app, create_app
from gateway.dependencies import EXTENSION
from gateway.publisher import Publisher
from gateway.refusals import list_refused
from gateway.tenants import MIGRATIONS, TenantStore

EXAMPLE = TRANSACTION_CREATED.read_bytes()
SHOPIFY_SECRET = "shpss_integration_refusals_0001"
SHOPIFY_ORDER = {
    "id": 820982911946154508, "email": "jon@example.com", "created_at": "2025-09-13T09:30:00-05:00",
    "currency": "COP", "total_price": "950000.00", "phone": None,
    "customer": {"first_name": "Jon", "last_name": "Snow", "email": "jon@example.com"},
    "line_items": [{"id": 1, "sku": "BOLSO-01", "title": "Bolso", "quantity": 1, "price": "950000.00",
                    "properties": [{"name": "autentikapp_code", "value": "a1b2c3d4-e5f6-7890-1234-567890abcdef"}]}],
}


def bus_settings(url: str) -> bus.BusSettings:
    return bus.BusSettings(url=url, duplicate_window_seconds=3600, max_age_seconds=3600, replicas=1,
                           max_deliver=5, ack_wait_seconds=30)


class Gateway:
    """The app, its store and acme's secret; `refused()` flushes the recorder, then lists acme's record."""

    def __init__(self, app, store, secret):
        self.app, self.store, self.secret = app, store, secret
        self.client = app.test_client()

    @property
    def recorder(self):
        return self.app.extensions[EXTENSION].refusals

    def refused(self, tenant_id: str = "acme"):
        assert self.recorder.flush(10), "the recorder wrote what it had queued"
        return list_refused(self.store.pool, tenant_id, 200, "")[0]

    def all_rows_as_text(self) -> str:
        assert self.recorder.flush(10)
        with self.store.pool.connection() as conn:
            return json.dumps([r["row"] for r in conn.execute(
                "SELECT row_to_json(r)::text AS row FROM refused_requests r").fetchall()])

    def post(self, body: bytes = EXAMPLE, *, tenant: str = "acme", secret: str | None = None,
             content_type: str = "application/json", **headers):
        signed = {signature.HEADER: signature.sign(secret or self.secret, body)} if secret != "" else {}
        return self.client.post(f"/v1/webhooks/inbound/{tenant}", data=body,
                                headers={"Content-Type": content_type, **signed, **headers})


@pytest.fixture
def make_gateway(nats_server, database_factory, keyring):
    """Builds a gateway on a fresh database where acme (with a Shopify secret too) and globex exist."""
    made = []

    def make(**config) -> Gateway:
        store = TenantStore.open(database_factory("gateway", MIGRATIONS), keyring=keyring)
        _, secret = store.create_tenant("Acme", "acme")
        store.add_secret("acme", "shopify", SHOPIFY_SECRET)
        store.create_tenant("Globex", "globex")
        publisher = Publisher(bus_settings(nats_server.url)).start()
        assert publisher.wait_connected(10)
        app = create_app({"PUBLISH_TIMEOUT_SECONDS": 2, **config}, tenant_store=store, publisher=publisher)
        made.append(app)
        return Gateway(app, store, secret.secret)

    yield make
    for app in made:
        close_app(app)


@pytest.fixture
def gateway(make_gateway) -> Gateway:
    return make_gateway()


def test_a_bad_signature_for_a_known_tenant_is_kept_with_its_reason_never_the_body_or_signature(gateway):
    forged = signature.sign("whsec_" + base64.b64encode(b"not acme's secret at all, no!!!").decode(), EXAMPLE)
    answer = gateway.post(**{signature.HEADER: forged}, secret="")
    assert answer.status_code == 401
    [row] = gateway.refused()
    assert (row.http_status, row.code, row.source, row.fields) == (401, "invalid-signature", "autentikapp", ())
    assert row.reason.startswith("The signature does not match any active secret.")
    assert answer.get_json()["detail"] in row.reason, "what the sender was told"
    stored = gateway.all_rows_as_text()
    for never in (forged, "cliente@email.com", "FACT-00123", gateway.secret):
        assert never not in stored


def test_a_stale_standard_webhooks_timestamp_is_kept_though_answered_before_any_tenant_lookup(gateway):
    old = int(time.time()) - 3600
    headers = {standard_webhooks.ID_HEADER: "msg_1", standard_webhooks.TIMESTAMP_HEADER: str(old),
               standard_webhooks.SIGNATURE_HEADER: standard_webhooks.sign(gateway.secret, "msg_1", old, EXAMPLE)}
    assert gateway.post(secret="", **headers).status_code == 401
    [row] = gateway.refused()
    assert row.reason.startswith("The signature's timestamp is outside the tolerance. webhook-timestamp is ")
    assert "msg_1" not in gateway.all_rows_as_text()


def test_an_unknown_tenant_records_nothing_and_is_answered_the_same(gateway):
    counts = Counts(("autentikapp_gateway_refusals_recorded_total", {}))
    known = gateway.post(secret="", **{signature.HEADER: "0" * 64})
    unknown = gateway.post(tenant="nobody", secret="", **{signature.HEADER: "0" * 64})
    too_large = gateway.post(b"{" + b" " * 600_000 + b"}", tenant="nobody")
    assert (known.status_code, unknown.status_code, too_large.status_code) == (401, 401, 413)
    assert known.get_json() == unknown.get_json() and known.headers == unknown.headers
    assert len(gateway.refused()) == 1
    assert "nobody" not in gateway.all_rows_as_text()
    assert counts.grown() == [1]


def test_a_422_keeps_the_failing_fields_paths_and_not_their_values(gateway):
    document = json.loads(EXAMPLE)
    document["customer_data"]["email"] = "ana.secret@@nowhere"
    document["transaction_data"]["currency"] = "XXXX"
    answer = gateway.post(json.dumps(document).encode())
    assert answer.status_code == 422
    [row] = gateway.refused()
    assert (row.http_status, row.code) == (422, "invalid-payload")
    assert set(row.fields) == {e["field"] for e in answer.get_json()["errors"]}
    assert {"customer_data.email", "transaction_data.currency"} <= set(row.fields)
    stored = gateway.all_rows_as_text()
    assert "ana.secret" not in stored and "XXXX" not in stored


def test_400_409_413_415_and_429_are_kept_in_order_newest_first(make_gateway):
    gateway = make_gateway(MAX_BODY_BYTES=4096, RATE_LIMIT_PER_SECOND=0.001, RATE_LIMIT_BURST=4)
    assert gateway.post(b"x" * 5000).status_code == 413
    assert gateway.post(b'{"a": 1, "a": 2}').status_code == 400
    assert gateway.post(EXAMPLE, content_type="text/plain").status_code == 415
    assert gateway.post().status_code == 202
    corrected = json.loads(EXAMPLE)
    corrected["transaction_data"]["line_items"][0]["quantity"] = 2
    assert gateway.post(json.dumps(corrected).encode()).status_code == 409
    answer = gateway.post()
    assert answer.status_code == 429
    rows = gateway.refused()
    assert [(r.http_status, r.code) for r in rows] == [
        (429, "too-many-requests"), (409, "transaction-conflict"), (415, "unsupported-media-type"),
        (400, "malformed-json"), (413, "payload-too-large")]
    assert rows[0].reason == answer.get_json()["detail"]
    assert rows[1].reason.startswith('transaction_id "…" was already accepted')
    assert rows[4].reason == "The body is larger than the limit of 4096 bytes."
    assert [r.received_at for r in rows] == sorted((r.received_at for r in rows), reverse=True)
    assert "FACT-00123" not in gateway.all_rows_as_text()


def test_a_platform_endpoints_refusals_are_kept_with_their_source(gateway):
    body = json.dumps(SHOPIFY_ORDER).encode()
    wrong = gateway.client.post("/v1/webhooks/shopify/acme", data=body, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": signature.sign_base64("not-the-shopify-secret-0001", body)})
    assert wrong.status_code == 401
    order = copy.deepcopy(SHOPIFY_ORDER)
    order["email"] = order["customer"]["email"] = "not an e-mail"
    bad = json.dumps(order).encode()
    invalid = gateway.client.post("/v1/webhooks/shopify/acme", data=bad, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": signature.sign_base64(SHOPIFY_SECRET, bad)})
    assert invalid.status_code == 422
    woo = gateway.client.post("/v1/webhooks/woocommerce/acme", data=body, headers={
        "Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created"})
    assert woo.status_code == 401, "acme has no WooCommerce secret"
    newest_first = gateway.refused()
    assert [(r.source, r.http_status) for r in newest_first] == [("woocommerce", 401), ("shopify", 422),
                                                                  ("shopify", 401)]
    assert newest_first[0].reason.startswith("No signature was sent.")
    assert newest_first[1].fields == tuple(e["field"] for e in invalid.get_json()["errors"])
    assert "not an e-mail" not in gateway.all_rows_as_text()


def test_one_tenants_refusals_are_not_anothers(gateway):
    assert gateway.post(content_type="text/plain").status_code == 415
    assert gateway.refused("globex") == []
    assert len(gateway.refused("acme")) == 1


def test_a_noisy_sender_is_capped_and_the_rest_counted(make_gateway):
    gateway = make_gateway()
    counts = Counts(("autentikapp_gateway_refusals_dropped_total", {"reason": "tenant_limit"}))
    burst = gateway.recorder._per_tenant.burst
    for _ in range(burst + 5):
        assert gateway.post(content_type="text/plain").status_code == 415
    kept = len(gateway.refused())
    assert burst <= kept < burst + 5, "the bucket refills at 1 a second: a slow machine may keep one or two more"
    assert counts.grown() == [burst + 5 - kept]
