"""The hostile corpus (hostile_requests.py) against the real system: gunicorn, NATS, the processor, both
services, over raw sockets.

For every entry: the documented status; a problem+json body (type, title, status, code) for every 4xx
the app answers (gunicorn's own parser refusals are its short text/html page); never a 5xx; nothing
echoed (no signature, no secret, no traceback); nothing written (the WEBHOOKS stream and both
tenants' customers and identifiers unchanged); and the gateway still takes a normal signed sale
afterwards. The accepted entries (202: metacharacters as data) must store exactly what was sent and
nothing else.

The other signature schemes' entries run the same way (the tenant also has Shopify and WooCommerce
secrets, and a third tenant requires timestamped signatures); around them: a Standard Webhooks request
sent twice is one event, answered as a duplicate the second time; a captured one replayed after the
tolerance is refused for its clock; the strict tenant takes Standard Webhooks; and an unknown tenant
is answered exactly like a wrong signature.
"""

from __future__ import annotations

import json
import secrets as random_secrets
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from autentikapp.v1 import customer_pb2, identifier_pb2
from common import bus
from system_support import System, sign, wait_for
from hostile_requests import (
    ACCEPTED,
    BY_NAME,
    BYSTANDER,
    CORPUS,
    PATH,
    SAME_ANSWER,
    SHOPIFY,
    SIGNED,
    STRICT,
    TENANT,
    UNSIGNED,
    WOOCOMMERCE,
    Hostile,
    WireContext,
    sale_for,
    standard_signature,
)
from rawhttp import RawResponse, build_request, exchange
from security_support import stream_messages

# The corpus is not about the per-tenant rate limit (it sends ~400 requests for one tenant in seconds).
SYSTEM_ENV = {"GATEWAY_RATE_LIMIT_PER_SECOND": "0"}
CANARY_CODE = "CANARY-CODE"
CANARY = json.dumps({**sale_for("canary"), "transaction_data": {
    "transaction_id": "CANARY", "line_items": [{"quantity": 1, "autentikapp_code": CANARY_CODE}]}}).encode()
PROBLEM_TYPE_BASE = "https://docs.autentik.app/problems/"


@dataclass
class Target:
    """The running system, the tenants' secrets, and what the corpus has sent so far."""

    sut: System
    secrets: dict[str, str]  # whsec_ secrets by tenant, and TENANT's platform secrets by platform
    canary_event_id: str
    accepted_event_ids: set[str] = field(default_factory=set)

    @property
    def port(self) -> int:
        return self.sut.ports["gateway"]


@dataclass(frozen=True)
class State:
    """Everything a request could have written."""

    stream_messages: int
    customers: dict[str, list[Any]]
    identifiers: dict[str, list[Any]]


def snapshot(target: Target) -> State:
    """The stream's message count and every customer and identifier row of both tenants."""
    customers = target.sut.stub("customer_service")
    identifiers = target.sut.stub("identifier_service")
    return State(
        stream_messages=stream_messages(target.sut.nats.url),
        customers={t: list(customers.ListCustomers(customer_pb2.ListCustomersRequest(
            tenant_id=t, page_size=1000)).customers) for t in (TENANT, BYSTANDER)},
        identifiers={t: list(identifiers.ListIdentifiers(identifier_pb2.ListIdentifiersRequest(
            tenant_id=t, page_size=1000)).identifiers) for t in (TENANT, BYSTANDER)},
    )


def assigned(target: Target, code: str, event_id: str):
    """The identifier once the processor linked it for `event_id` (None until then)."""
    identifier = target.sut.stub("identifier_service").GetIdentifier(
        identifier_pb2.GetIdentifierRequest(tenant_id=TENANT, code=code)).identifier
    return identifier if identifier.customer_id and identifier.event_id == event_id else None


@pytest.fixture(scope="module")
def target(module_system, tmp_path_factory) -> Target:
    """Tenant acme (attacked, with a Shopify and a WooCommerce secret too), a bystander tenant, a strict
    tenant (timestamped signatures required), the accepted entries' codes registered, and the canary sale
    (the normal request sent after every hostile one) accepted and processed once."""
    sut = module_system
    secrets = {t: sut.cli("tenants", "create", "--name", f"{t} brand", "--id", t)["secret"]
               for t in (TENANT, BYSTANDER, STRICT)}
    assert sut.cli("tenants", "signing", STRICT, "--require-timestamped")["require_timestamped"] is True
    shopify_file = tmp_path_factory.mktemp("shopify") / "secret"
    shopify_file.write_text("shpss_" + random_secrets.token_hex(16) + "\n")
    sut.cli("tenants", "secrets", "add", TENANT, "--platform", SHOPIFY, "--secret-file", str(shopify_file))
    secrets[SHOPIFY] = shopify_file.read_text().strip()
    secrets[WOOCOMMERCE] = sut.cli("tenants", "secrets", "add", TENANT, "--platform", WOOCOMMERCE)["secret"]
    sut.cli("identifiers", "register", "--tenant", TENANT, CANARY_CODE, *[e.stored.code for e in ACCEPTED])
    sut.cli("identifiers", "register", "--tenant", BYSTANDER, "BYSTANDER-1")
    status, _, body = sut.send(TENANT, secrets[TENANT], CANARY)
    assert status == 202, body
    target = Target(sut, secrets, body["event_id"])
    wait_for(lambda: assigned(target, CANARY_CODE, body["event_id"]), what="the canary sale processed")
    return target


def request_bytes(entry: Hostile, secrets: dict[str, str]) -> bytes:
    """The entry as bytes on the wire."""
    secret = secrets[TENANT]
    if entry.wire is not None:
        return entry.wire(WireContext(PATH, lambda body: sign(secret, body), secrets))
    body = entry.resolved_body()
    headers: list[tuple[str, str]] = []
    if entry.content_type is not None:
        headers.append(("Content-Type", entry.content_type))
    if entry.signature == SIGNED:
        headers.append(("X-Autentikapp-Signature", sign(secret, body)))
    elif entry.signature != UNSIGNED:
        headers.append(("X-Autentikapp-Signature", entry.signature(secret, body)))
    return build_request(entry.method, entry.path, headers + list(entry.headers), body)


SIGNATURE_HEADERS = (b"x-autentikapp-signature", b"webhook-signature", b"x-shopify-hmac-sha256",
                     b"x-wc-webhook-signature")


def sent_signatures(sent: bytes) -> list[bytes]:
    """Every signature the request carried (each entry of a webhook-signature list, without its `v1,`),
    long enough to be recognised if echoed."""
    found = []
    for line in sent.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() in SIGNATURE_HEADERS:
            for piece in value.replace(b",", b" ").split():
                if len(piece) >= 20:
                    found.append(piece[:64])
    return found


def check_answer(entry: Hostile, response: RawResponse, secrets: list[str], sent: bytes) -> None:
    """Status, body shape, and nothing echoed (in the body or in a header)."""
    detail = f"{entry.name} ({entry.why}): {response.status} {response.body[:600]!r}"
    assert response.status < 500, "never a 5xx: " + detail
    assert response.status == entry.status, detail
    answered = response.body + b"\n".join(value.encode("latin-1") for _, value in response.headers)
    for secret in secrets:
        assert secret.encode() not in answered, "a secret is never echoed"
    assert b"Traceback" not in response.body and b'File "' not in response.body, "no stack trace"
    for signature in sent_signatures(sent):
        assert signature not in answered, f"the signature {signature!r} is never echoed: {detail}"
    if entry.status == 202:
        answer = response.json()
        assert answer["status"] == "accepted" and answer["duplicate"] is False, detail
        return
    if entry.status == 200:  # a platform's delivery with nothing to publish, or WooCommerce's ping
        assert response.media_type == "application/json", detail
        assert response.json()["status"] == entry.answer and "event_id" not in response.json(), detail
        return
    if entry.code is None:  # refused by gunicorn's HTTP parser: its own page, and the connection closed
        assert response.media_type == "text/html", detail
        assert (response.header("Connection") or "").lower() == "close", detail
        return
    assert response.media_type == "application/problem+json", detail
    problem = response.json()
    assert problem["code"] == entry.code, detail
    assert problem["type"] == PROBLEM_TYPE_BASE + entry.code, detail
    assert problem["status"] == entry.status, detail
    assert isinstance(problem["title"], str) and problem["title"], detail
    assert isinstance(problem["detail"], str), detail
    if entry.detail is not None:
        assert entry.detail.lower() in problem["detail"].lower(), f"{detail}\n  detail must say {entry.detail!r}"
    if entry.status == 405:
        assert "POST" in (response.header("Allow") or ""), detail
    if entry.status == 422:
        named = {error["field"] for error in problem["errors"]}
        assert set(entry.fields) <= named, f"{detail}\n  expected fields {entry.fields}, got {sorted(named)}"
        assert all(isinstance(error["message"], str) and error["message"] for error in problem["errors"])


def check_stored(target: Target, entry: Hostile, event_id: str, before: State) -> None:
    """An accepted entry: its code linked to one new buyer, the values stored as sent, nothing else."""
    assert entry.stored is not None
    identifier = wait_for(lambda: assigned(target, entry.stored.code, event_id), what=f"{entry.name} processed")
    for name, value in entry.stored.identifier.items():
        assert getattr(identifier, name) == value, f"{entry.name}: identifier.{name}"
    customer = target.sut.stub("customer_service").GetCustomer(customer_pb2.GetCustomerRequest(
        tenant_id=TENANT, customer_id=identifier.customer_id)).customer
    for name, value in entry.stored.customer.items():
        assert getattr(customer, name) == value, f"{entry.name}: customer.{name}"
    after = snapshot(target)
    assert after.stream_messages == before.stream_messages + 1
    assert after.customers[BYSTANDER] == before.customers[BYSTANDER]
    assert after.identifiers[BYSTANDER] == before.identifiers[BYSTANDER]
    new_customers = [c for c in after.customers[TENANT] if c not in before.customers[TENANT]]
    assert [c.id for c in new_customers] == [customer.id], "one new buyer, no other customer touched"
    changed = [i.code for i in after.identifiers[TENANT] if i not in before.identifiers[TENANT]]
    assert changed == [entry.stored.code], "only the sold code changed"


@pytest.mark.parametrize("entry", CORPUS, ids=[entry.name for entry in CORPUS])
def test_hostile_request(target: Target, entry: Hostile) -> None:
    secret = target.secrets[TENANT]
    before = snapshot(target)
    sent = request_bytes(entry, target.secrets)

    response = exchange(target.port, sent, half_close=entry.half_close)

    check_answer(entry, response, list(target.secrets.values()), sent)
    if entry.status == 202:
        event_id = response.json()["event_id"]
        target.accepted_event_ids.add(event_id)
        check_stored(target, entry, event_id, before)
    else:
        assert snapshot(target) == before, f"{entry.name} wrote something"
    status, _, body = target.sut.send(TENANT, secret, CANARY)
    answer = body if isinstance(body, dict) else {}
    assert (status, answer.get("event_id"), answer.get("duplicate")) == (202, target.canary_event_id, True), \
        f"after {entry.name} the gateway no longer takes a normal sale: {status} {body}"


@pytest.mark.parametrize(("name", "like"), SAME_ANSWER, ids=[f"{a}=={b}" for a, b in SAME_ANSWER])
def test_an_unknown_or_strict_tenant_is_answered_exactly_like_a_wrong_signature(target: Target, name: str,
                                                                                 like: str) -> None:
    before = snapshot(target)
    first, second = (exchange(target.port, request_bytes(BY_NAME[n], target.secrets)) for n in (name, like))
    assert (first.status, first.media_type) == (second.status, second.media_type) == (401, "application/problem+json")
    assert first.json() == second.json(), f"{name} is told apart from {like}"
    assert snapshot(target) == before


def standard_request(target: Target, tenant: str, msg_id: str, timestamp: int, body: bytes) -> bytes:
    """A Standard Webhooks request signed with the tenant's whsec_ secret."""
    return build_request("POST", f"/v1/webhooks/inbound/{tenant}", [
        ("Content-Type", "application/json"), ("webhook-id", msg_id), ("webhook-timestamp", str(timestamp)),
        ("webhook-signature", standard_signature(target.secrets[tenant], msg_id, str(timestamp), body))], body)


def wait_processed(target: Target, event_id: str) -> None:
    """Until the processor has handled the event (so later snapshots do not see it land)."""
    wait_for(lambda: (target.sut.cli("events", "show", event_id, check=False) or {}).get("status") == "processed",
             what=f"{event_id} processed")


def test_a_standard_webhooks_request_replayed_within_the_tolerance_is_the_same_event(target: Target) -> None:
    body = json.dumps(sale_for("sw-replay")).encode()
    captured = standard_request(target, TENANT, "msg_replay_1", int(time.time()), body)
    before = stream_messages(target.sut.nats.url)

    first, replay = exchange(target.port, captured), exchange(target.port, captured)

    assert first.status == 202 and first.json()["duplicate"] is False, first.body
    target.accepted_event_ids.add(first.json()["event_id"])
    assert replay.status == 202, replay.body
    assert replay.json() == {**first.json(), "duplicate": True}, "the replay is answered as the same event"
    assert stream_messages(target.sut.nats.url) == before + 1, "one message for both"
    retried = exchange(target.port, standard_request(target, TENANT, "msg_replay_1", int(time.time()) + 1, body))
    assert (retried.status, retried.json()["event_id"], retried.json()["duplicate"]) == (
        202, first.json()["event_id"], True), "a retry signed anew is the same event too"
    assert stream_messages(target.sut.nats.url) == before + 1
    wait_processed(target, first.json()["event_id"])


def test_a_captured_standard_webhooks_request_replayed_after_the_tolerance_is_refused_for_its_clock(
        target: Target) -> None:
    body = json.dumps(sale_for("sw-late-replay")).encode()
    captured_long_ago = standard_request(target, TENANT, "msg_replay_2", int(time.time()) - 301 - 60, body)
    before = snapshot(target)

    response = exchange(target.port, captured_long_ago)

    assert (response.status, response.media_type) == (401, "application/problem+json"), response.body
    problem = response.json()
    assert problem["code"] == "invalid-signature" and "clock" in problem["detail"], problem
    assert "behind" in problem["detail"], "the detail says which way the clock is off"
    assert snapshot(target) == before, "nothing published"


def test_the_strict_tenant_takes_standard_webhooks_and_refuses_the_guides_header_alone(target: Target) -> None:
    body = json.dumps(sale_for("strict-accepted")).encode()
    before = stream_messages(target.sut.nats.url)
    refused = exchange(target.port, build_request("POST", f"/v1/webhooks/inbound/{STRICT}", [
        ("Content-Type", "application/json"), ("X-Autentikapp-Signature", sign(target.secrets[STRICT], body))], body))
    assert refused.status == 401 and "requires timestamped" in refused.json()["detail"], refused.body
    assert stream_messages(target.sut.nats.url) == before

    accepted = exchange(target.port, standard_request(target, STRICT, "msg_strict_1", int(time.time()), body))

    assert accepted.status == 202 and accepted.json()["duplicate"] is False, accepted.body
    target.accepted_event_ids.add(accepted.json()["event_id"])
    assert stream_messages(target.sut.nats.url) == before + 1
    wait_processed(target, accepted.json()["event_id"])


def test_the_corpus_stored_only_the_accepted_events_and_dead_lettered_nothing(target: Target) -> None:
    assert stream_messages(target.sut.nats.url) == 1 + len(target.accepted_event_ids)
    assert stream_messages(target.sut.nats.url, bus.DEAD_LETTER_STREAM) == 0
    log = (target.sut.group.log_dir / "gateway.log").read_text(errors="replace")
    assert "Traceback" not in log and "unhandled error" not in log, "no request crashed the gateway"
