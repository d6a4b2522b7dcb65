"""The gateway's HTTP contract with the Flask test client, a fake tenants store and a fake publisher:
every refusal in the contract's order, with its problem+json body, and the 202."""

from __future__ import annotations

import io
import json

import pytest
from metrics_support import Counts
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from autentikapp.v1 import events_pb2
from cli.examples import TRANSACTION_CREATED
from common import work_message
from common.errors import Unavailable
from gateway.app import create_app
from gateway.buyer_rules import BuyerRules
from gateway.event_ids import content_digest, event_id
from gateway.publisher import Published, PublishError
from gateway import senders
from gateway.senders import TenantSenders
from gateway.signature import sign

SECRET = "whsec_" + "A" * 43
OTHER_SECRET = "whsec_" + "B" * 43
EXAMPLE = TRANSACTION_CREATED.read_bytes()
URL = "/v1/webhooks/inbound/acme"


class FakeStore:
    """Tenants and their active secrets in a dict; counts lookups; can be switched to 'down'."""

    def __init__(self) -> None:
        self.secrets = {"acme": [SECRET], "other": [OTHER_SECRET]}
        self.platform_secrets: dict[tuple[str, str], list[str]] = {}
        self.require_timestamped: set[str] = set()
        self.lookups = 0
        self.down = False

    def senders(self, tenant_id: str) -> TenantSenders:
        self.lookups += 1
        if self.down:
            raise Unavailable("the tenants database is unavailable")
        secrets = {senders.WEBHOOK: tuple(self.secrets.get(tenant_id, []))}
        for (tenant, platform), values in self.platform_secrets.items():
            if tenant == tenant_id:
                secrets[platform] = tuple(values)
        return TenantSenders(secrets=secrets, require_timestamped=tenant_id in self.require_timestamped)


    def buyer_rules(self, tenant_id: str) -> BuyerRules:
        """No default country and no list of its own."""
        return BuyerRules()

    def ping(self, timeout: float = 2.0) -> bool:
        return not self.down


class FakePublisher:
    """A stream in a list, as JetStream keeps it: a message id seen before is answered as a duplicate with
    the sequence of the message stored under it, and only the first is stored; stored headers are read
    back by sequence. Records publishes and reads; each can fail on demand."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, dict, float]] = []
        self.stored: list[dict] = []  # the headers of sequence n at index n - 1
        self.sequences: dict[str, int] = {}  # message id -> its sequence
        self.reads: list[tuple[int, float]] = []
        self.error: Exception | None = None
        self.read_error: Exception | None = None
        self.connected = True

    def publish(self, subject, data, headers, timeout) -> Published:
        if self.error is not None:
            raise self.error
        self.calls.append((subject, data, dict(headers), timeout))
        msg_id = headers[work_message.HEADER_MSG_ID]
        if msg_id in self.sequences:
            return Published(True, self.sequences[msg_id])
        self.stored.append(dict(headers))
        self.sequences[msg_id] = len(self.stored)
        return Published(False, len(self.stored))

    def stored_headers(self, sequence, timeout):
        self.reads.append((sequence, timeout))
        if self.read_error is not None:
            raise self.read_error
        return dict(self.stored[sequence - 1]) if 0 < sequence <= len(self.stored) else None

    def is_connected(self) -> bool:
        return self.connected


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(store, publisher):
    app = create_app({"SECRET_CACHE_SECONDS": 0, "MAX_BODY_BYTES": 512 * 1024, "RETRY_AFTER_SECONDS": 7},
                     tenant_store=store, publisher=publisher)
    return app.test_client()


def post(client, body: bytes, *, secret: str | None = SECRET, url: str = URL, content_type="application/json",
         signature: str | None = None, headers: dict | None = None):
    """POST `body`, signed with `secret` unless `signature` is given or secret is None."""
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    if signature is not None:
        all_headers["X-Autentikapp-Signature"] = signature
    elif secret is not None:
        all_headers["X-Autentikapp-Signature"] = sign(secret, body)
    return client.post(url, data=body, headers=all_headers)


def problem(response, status: int, code: str) -> dict:
    """Check a problem+json answer and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"https://docs.autentik.app/problems/{code}"
    assert body["title"] and body["detail"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "whsec_" not in text
    return body


def payload(**changes) -> dict:
    doc = json.loads(EXAMPLE)
    doc.update(changes)
    return doc


def encode(doc) -> bytes:
    return json.dumps(doc).encode()


# -- 202 -------------------------------------------------------------------------------------------


def test_the_guide_example_is_accepted_and_published_with_the_contract_headers(client, publisher):
    response = post(client, EXAMPLE)
    assert response.status_code == 202
    expected_id = event_id("acme", "transaction.created", "FACT-00123")
    assert response.get_json() == {"event_id": expected_id, "status": "accepted", "duplicate": False}
    [(subject, data, headers, timeout)] = publisher.calls
    assert subject == "webhooks.inbound.acme"

    from autentikapp.v1 import events_pb2

    event = events_pb2.WebhookEvent.FromString(data)
    assert event.raw_body == EXAMPLE and event.event_id == expected_id and event.schema_version == 1
    assert headers == {work_message.HEADER_MSG_ID: expected_id, work_message.HEADER_EVENT_ID: expected_id,
                       work_message.HEADER_TENANT_ID: "acme",
                       work_message.HEADER_CONTENT_DIGEST: content_digest(event.sale),
                       work_message.HEADER_SOURCE: "autentikapp"}
    assert timeout == 2.0
    assert publisher.reads == [], "a new event reads nothing back"


def test_a_repeat_gets_the_same_event_id_and_duplicate_true(client, publisher):
    first = post(client, EXAMPLE).get_json()
    again = post(client, EXAMPLE).get_json()
    assert first["event_id"] == again["event_id"]
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    [(sequence, timeout)] = publisher.reads  # the stored message named by the duplicate's PubAck
    assert sequence == 1 and 0 < timeout <= 2.0


# -- a repeat with other content: 409 --------------------------------------------------------------


def corrected(**changes) -> bytes:
    """The guide's example (same transaction_id) with parts of transaction_data / customer_data changed."""
    doc = json.loads(EXAMPLE)
    for section, values in changes.items():
        doc[section].update(values)
    return encode(doc)


def test_same_content_sent_differently_is_a_retry(client):
    assert post(client, EXAMPLE).status_code == 202
    doc = json.loads(EXAMPLE)
    doc["customer_data"]["email"] = "  CLIENTE@Email.com "  # normalised to the same e-mail
    doc["some_field_we_ignore"] = 1
    again = post(client, json.dumps(doc, indent=None, sort_keys=True).encode())
    assert again.status_code == 202 and again.get_json()["duplicate"] is True


@pytest.mark.parametrize("body", [
    corrected(transaction_data={"line_items": [{"product_sku": "BOLSO-CUERO-01", "quantity": 2,
                                                "autentikapp_code": "a1b2c3d4-e5f6-7890-1234-567890abcdef"}]}),
    corrected(transaction_data={"line_items": []}),
    corrected(transaction_data={"total_amount": 1.00}),
    corrected(customer_data={"email": "otra.persona@email.com"}),
    corrected(customer_data={"national_id": "987654321"}),
], ids=["other line items", "no line items", "other total", "other buyer e-mail", "other buyer id"])
def test_the_same_transaction_with_other_content_is_409_and_nothing_changes(client, publisher, body):
    first = post(client, EXAMPLE)
    assert first.status_code == 202
    response = post(client, body)
    problem_body = problem(response, 409, "transaction-conflict")
    assert problem_body["detail"] == ('transaction_id "FACT-00123" was already accepted with different content; '
                                      "a corrected sale needs a new transaction_id.")
    assert problem_body["event_id"] == first.get_json()["event_id"]
    text = response.get_data(as_text=True)
    assert "otra.persona" not in text and "987654321" not in text and "cliente@" not in text
    assert len(publisher.stored) == 1, "the first sale stays as it was"
    again = post(client, EXAMPLE)  # the original again: still a retry
    assert again.status_code == 202 and again.get_json()["duplicate"] is True


def test_a_new_event_timestamp_alone_is_a_retry_not_a_correction(client):
    assert post(client, EXAMPLE).status_code == 202
    restamped = encode(payload(event_timestamp="2025-09-13T14:35:07-05:00"))
    again = post(client, restamped)
    assert again.status_code == 202 and again.get_json()["duplicate"] is True


def test_a_message_stored_without_a_digest_counts_as_the_same_content(client, publisher):
    assert post(client, EXAMPLE).status_code == 202
    del publisher.stored[0][work_message.HEADER_CONTENT_DIGEST]  # as accepted before digests existed
    again = post(client, corrected(transaction_data={"line_items": []}))
    assert again.status_code == 202 and again.get_json()["duplicate"] is True


def test_a_message_stored_with_a_digest_of_another_version_counts_as_the_same_content(client, publisher):
    assert post(client, EXAMPLE).status_code == 202
    publisher.stored[0][work_message.HEADER_CONTENT_DIGEST] = "v0:" + "0" * 32
    again = post(client, corrected(transaction_data={"line_items": []}))
    assert again.status_code == 202 and again.get_json()["duplicate"] is True


def test_a_stored_message_that_is_gone_counts_as_the_same_content(client, publisher):
    assert post(client, EXAMPLE).status_code == 202
    publisher.stored.clear()  # deleted, though JetStream still reports the id as a duplicate
    again = post(client, corrected(transaction_data={"line_items": []}))
    assert again.status_code == 202 and again.get_json()["duplicate"] is True


def test_uppercase_hex_signature_and_charset_parameter_are_fine(client):
    response = post(client, EXAMPLE, signature=sign(SECRET, EXAMPLE).upper(),
                    content_type="application/json; charset=UTF-8")
    assert response.status_code == 202


def test_any_active_secret_of_the_tenant_verifies(client, store):
    store.secrets["acme"] = [OTHER_SECRET + "x", SECRET]
    assert post(client, EXAMPLE).status_code == 202


# gunicorn de-chunks bodies and says so with wsgi.input_terminated; the test client is told the same.
TERMINATED = {"wsgi.input_terminated": True}


def test_a_chunked_body_without_content_length_is_read(client):
    response = client.post(URL, input_stream=io.BytesIO(EXAMPLE), environ_overrides=TERMINATED, headers={
        "Content-Type": "application/json", "X-Autentikapp-Signature": sign(SECRET, EXAMPLE),
        "Transfer-Encoding": "chunked"})
    assert response.status_code == 202, response.get_data(as_text=True)


# -- 413 -------------------------------------------------------------------------------------------


def test_600_kib_is_refused_with_413_before_anything_else(client, store, publisher):
    huge = b'{"x": "' + b"a" * (600 * 1024) + b'"}'
    body = problem(post(client, huge, secret=None, content_type="text/plain"), 413, "payload-too-large")
    assert "524288" in body["detail"]
    assert store.lookups == 0 and publisher.calls == []


def test_413_without_content_length_reads_at_most_cap_plus_one_bytes(store, publisher):
    app = create_app({"MAX_BODY_BYTES": 1024}, tenant_store=store, publisher=publisher)

    class Endless(io.RawIOBase):
        """An endless body that counts what was read from it."""

        read_total = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            Endless.read_total += len(buffer)
            buffer[:] = b"x" * len(buffer)
            return len(buffer)

    environ = EnvironBuilder(path=URL, method="POST", headers={"Transfer-Encoding": "chunked"}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": Endless(), **TERMINATED})
    response = Response.from_app(app, environ)
    problem(response, 413, "payload-too-large")
    assert Endless.read_total <= 1025


def test_a_body_of_exactly_the_cap_is_not_too_large(store, publisher):
    app = create_app({"MAX_BODY_BYTES": 2048}, tenant_store=store, publisher=publisher)
    body = EXAMPLE + b" " * (2048 - len(EXAMPLE))
    assert post(app.test_client(), body).status_code == 202
    problem(post(app.test_client(), body + b" "), 413, "payload-too-large")


# -- 401 -------------------------------------------------------------------------------------------


def test_every_signature_failure_is_the_same_401_and_nothing_is_published(client, publisher):
    reserialised = json.dumps(json.loads(EXAMPLE)).encode()
    assert reserialised != EXAMPLE
    cases = {
        "wrong secret": post(client, EXAMPLE, secret="whsec_wrong"),
        "other tenant's secret": post(client, EXAMPLE, secret=OTHER_SECRET),
        "missing header": post(client, EXAMPLE, secret=None),
        "empty header": post(client, EXAMPLE, signature=""),
        "not hex": post(client, EXAMPLE, signature="z" * 64),
        "truncated": post(client, EXAMPLE, signature=sign(SECRET, EXAMPLE)[:-1]),
        "one byte changed": post(client, EXAMPLE.replace(b"950000.00", b"950001.00", 1),
                                 signature=sign(SECRET, EXAMPLE)),
        "re-serialised JSON": post(client, EXAMPLE, signature=sign(SECRET, reserialised)),
        "unknown tenant": post(client, EXAMPLE, url="/v1/webhooks/inbound/nobody"),
        "malformed tenant id": post(client, EXAMPLE, url="/v1/webhooks/inbound/a.b"),
    }
    bodies = {name: problem(response, 401, "invalid-signature") for name, response in cases.items()}
    assert len({json.dumps(b, sort_keys=True) for b in bodies.values()}) == 1, bodies
    assert publisher.calls == []


def test_the_signature_is_never_echoed(client):
    signature = sign("whsec_wrong", EXAMPLE)
    response = post(client, EXAMPLE, signature=signature)
    assert signature not in response.get_data(as_text=True)


def test_signature_is_checked_before_content_type_and_json(client):
    problem(post(client, b"not json", secret="whsec_wrong", content_type="text/plain"), 401, "invalid-signature")


def test_tenants_store_down_is_503_with_retry_after(client, store):
    store.down = True
    response = post(client, EXAMPLE)
    problem(response, 503, "temporarily-unavailable")
    assert response.headers["Retry-After"] == "7"


# -- 415 / 400 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1", "application/jsonx"])
def test_other_content_types_are_415(client, content_type):
    problem(post(client, EXAMPLE, content_type=content_type), 415, "unsupported-media-type")


@pytest.mark.parametrize("body, reason", [
    (b'{"a": 1', "invalid JSON"),
    (b"", "invalid JSON"),
    (b'{"a": 1, "a": 2}', "duplicate key"),
    (b'{"a": "\xff\xfe"}', "not valid UTF-8"),
    (b'{"a": NaN}', "NaN"),
    (b'{"a": -Infinity}', "Infinity"),
    (b'{"a": "\\ud800"}', "surrogate"),
    (b"[" * 40 + b"]" * 40, "nested"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),
])
def test_bodies_that_are_not_strict_json_are_400(client, publisher, body, reason):
    detail = problem(post(client, body), 400, "malformed-json")["detail"]
    assert reason in detail
    assert publisher.calls == []


# -- 422 -------------------------------------------------------------------------------------------


def test_schema_failures_are_422_listing_every_field(client, publisher):
    doc = payload(event_timestamp="1970-01-01T00:00:00Z")
    doc["customer_data"]["email"] = "not-an-address"
    doc["transaction_data"]["line_items"][0]["quantity"] = 0
    body = problem(post(client, encode(doc)), 422, "invalid-payload")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"event_timestamp", "customer_data.email", "transaction_data.line_items[0].quantity"}
    assert all(e["message"] for e in body["errors"])
    assert publisher.calls == []


def test_an_unknown_event_type_is_422_naming_the_three_accepted_ones(client, publisher):
    body = problem(post(client, encode(payload(event_type="transaction.deleted"))), 422, "invalid-payload")
    [error] = body["errors"]
    assert error["field"] == "event_type"
    assert "'transaction.created', 'transaction.refunded', 'transaction.voided'" in error["message"]
    assert publisher.calls == []


def test_a_refund_and_a_void_are_accepted_and_published_with_their_own_event_ids(client, publisher):
    refund = {"event_type": "transaction.refunded", "event_timestamp": "2025-09-14T10:15:00-05:00",
              "transaction_data": {"transaction_id": "FACT-00123", "refund_id": "NC-00045",
                                   "line_items": [{"autentikapp_code": "a1b2c3d4-e5f6-7890-1234-567890abcdef"}]}}
    void = {"event_type": "transaction.voided", "event_timestamp": "2025-09-13T14:45:00Z",
            "transaction_data": {"transaction_id": "FACT-00123"}}
    sale = post(client, encode(payload()))
    answers = [post(client, encode(doc)) for doc in (refund, void)]
    assert [a.status_code for a in answers] == [202, 202]
    ids = {sale.get_json()["event_id"], *(a.get_json()["event_id"] for a in answers)}
    assert len(ids) == 3, "a sale, its refund and its void have three event ids"
    published = [events_pb2.WebhookEvent.FromString(call[1]) for call in publisher.calls[-2:]]
    assert [e.HasField("release") and not e.HasField("sale") for e in published] == [True, True]
    assert list(published[0].release.codes) == ["a1b2c3d4-e5f6-7890-1234-567890abcdef"]
    assert published[1].release.kind == events_pb2.Release.KIND_VOID


def test_a_body_that_is_not_an_object_is_422(client):
    body = problem(post(client, b"[1, 2]"), 422, "invalid-payload")
    assert body["errors"] == [{"field": "", "message": "the body must be a JSON object"}]


# -- 503 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [PublishError("no acknowledgement within 2s"),
                                   PublishError("APIError: too many requests"),
                                   PublishError("not connected to NATS")])
def test_a_failed_publish_is_503_with_retry_after(client, publisher, error):
    publisher.error = error
    response = post(client, EXAMPLE)
    body = problem(response, 503, "temporarily-unavailable")
    assert response.headers["Retry-After"] == "7"
    assert "too many" not in body["detail"]  # internal reasons stay in the log


def test_a_duplicate_whose_stored_message_cannot_be_read_is_503_not_500(client, publisher):
    assert post(client, EXAMPLE).status_code == 202
    publisher.read_error = PublishError("the stored message was not read within 2s")
    response = post(client, EXAMPLE)
    problem(response, 503, "temporarily-unavailable")
    assert response.headers["Retry-After"] == "7"
    publisher.read_error = None
    assert post(client, EXAMPLE).get_json()["duplicate"] is True


# -- probes and unknown routes ---------------------------------------------------------------------


def test_healthz_and_readyz(client, store, publisher):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready", "checks": {"nats": "ok", "tenants_db": "ok"}}
    publisher.connected = False
    body = problem(client.get("/readyz"), 503, "not-ready")
    assert body["checks"] == {"nats": "unavailable", "tenants_db": "ok"}
    store.down = True
    assert problem(client.get("/readyz"), 503, "not-ready")["checks"]["tenants_db"] == "unavailable"
    assert client.get("/healthz").status_code == 200


def test_unknown_routes_and_methods_are_problems(client):
    problem(client.get("/nope"), 404, "not-found")
    problem(client.post("/v1/webhooks/inbound/"), 404, "not-found")
    response = client.get(URL)
    problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers["Allow"]
    problem(client.post("/healthz"), 405, "method-not-allowed")


def test_an_unexpected_error_is_a_500_problem_without_details(client, publisher):
    publisher.error = RuntimeError("secret internals whsec_leak")
    response = post(client, EXAMPLE)
    body = problem(response, 500, "internal-error")
    assert "internals" not in json.dumps(body)


# -- metrics ---------------------------------------------------------------------------------------


def test_every_webhook_answer_is_counted_by_its_verified_tenant_and_status(client, publisher):
    requests = "autentikapp_gateway_webhook_requests_total"
    failures = "autentikapp_gateway_signature_failures_total"
    counts = Counts((requests, {"tenant": "acme", "status": "202"}), (requests, {"tenant": "acme", "status": "400"}),
                    (requests, {"tenant": "unknown", "status": "401"}), (requests, {"tenant": "nobody", "status": "401"}),
                    (failures, {"reason": "mismatch"}), (failures, {"reason": "unknown_tenant"}),
                    (failures, {"reason": "malformed"}), (failures, {"reason": "missing"}),
                    (requests, {"tenant": "acme", "status": "409"}))
    assert post(client, EXAMPLE).status_code == 202
    assert post(client, corrected(transaction_data={"line_items": []})).status_code == 409
    assert post(client, b"{", content_type="application/json").status_code == 400
    assert post(client, EXAMPLE, secret=OTHER_SECRET).status_code == 401
    assert post(client, EXAMPLE, url="/v1/webhooks/inbound/nobody").status_code == 401
    assert post(client, EXAMPLE, signature="not-hex").status_code == 401
    assert post(client, EXAMPLE, secret=None).status_code == 401
    client.get("/healthz")
    client.get("/readyz")
    assert counts.grown() == [1, 1, 4, 0, 1, 1, 1, 1, 1], "a stranger is 'unknown'; probes are not webhooks"


def test_body_sizes_and_publish_waits_are_observed_also_for_a_503(client, publisher):
    counts = Counts(("autentikapp_gateway_webhook_body_bytes_count", {}),
                    ("autentikapp_gateway_webhook_body_bytes_sum", {}),
                    ("autentikapp_gateway_publish_seconds_count", {}))
    post(client, EXAMPLE)
    publisher.error = PublishError("no acknowledgement within 2s")
    post(client, EXAMPLE)
    post(client, EXAMPLE, secret=OTHER_SECRET)  # read, refused before any publish
    assert counts.grown() == [3, 3 * len(EXAMPLE), 2]
