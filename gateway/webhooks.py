"""POST /v1/webhooks/inbound/<tenant_id>: the checks in the contract's order, then a durable publish.

size (413) ▸ tenant + signature, either scheme (401; gateway/authentication.py) ▸ the tenant's rate limit (429 + Retry-After) ▸ content type (415) ▸
JSON (400) ▸ schema (422; phone numbers read in the tenant's default country) ▸ durable publish (503 +
Retry-After) ▸ the same transaction_id accepted before with other content (409) ▸ 202 {"event_id",
"status": "accepted", "duplicate"}.
"""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import datetime
from collections.abc import Callable
from typing import Any, BinaryIO

from flask import Blueprint, Request, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from autentikapp.v1 import events_pb2
from common import bus, timestamps, work_message
from gateway import authentication, event_ids, json_body, metrics, payload, problems
from gateway.buyer_rules import BuyerRules
from gateway.dependencies import dependencies, from_tenants_store, retry_after
from gateway.problems import Problem
from gateway.publisher import PublishError

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

READ_CHUNK = 64 * 1024


def _too_large(cap: int) -> Problem:
    """413, naming the limit."""
    return Problem(problems.PAYLOAD_TOO_LARGE, f"The body is larger than the limit of {cap} bytes.")


def read_capped_body(req: Request, cap: int) -> bytes:
    """The raw body, refusing more than `cap` bytes: by Content-Length before reading anything, and for a
    body without one (chunked) by reading at most cap + 1 bytes."""
    declared = req.content_length
    if declared is not None and declared > cap:
        raise _too_large(cap)
    stream: BinaryIO = req.stream
    chunks: list[bytes] = []
    total = 0
    wanted = cap + 1 if declared is None else declared  # a declared body is read to its end, no further
    while total < wanted:
        chunk = _read(stream, min(READ_CHUNK, wanted - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > cap:
        raise _too_large(cap)
    if declared is not None and total < declared:  # the client went away mid-body
        raise Problem(problems.BAD_REQUEST, "The body ended before the length its Content-Length declared.")
    return b"".join(chunks)


def _read(stream: BinaryIO, size: int) -> bytes:
    """One read of the body. The server's reader fails on broken chunked framing or a client gone
    mid-body: that is the client's mistake, answered 400, never 500."""
    try:
        return stream.read(size)
    except HTTPException:
        raise  # Werkzeug's own (e.g. ClientDisconnected): already a 4xx
    except Exception as exc:  # noqa: BLE001 - gunicorn's InvalidChunkSize, NoMoreData, ...: the server's types
        log.info("unreadable request body: %s", type(exc).__name__)
        raise Problem(problems.BAD_REQUEST, "The request body could not be read: its chunked framing is "
                      "broken or it ended early.") from None


def limit_rate(tenant_id: str) -> None:
    """429 + Retry-After (whole seconds until a token is free, at least 1) when the tenant has used up
    its tokens. Runs after the signature check, so only the tenant itself can spend its quota, and
    before any parsing, so a flooding tenant is answered cheaply."""
    limiter = dependencies().rate_limiter
    wait = limiter.acquire(tenant_id) if limiter is not None else 0.0
    if wait > 0:
        raise Problem(problems.TOO_MANY_REQUESTS, "This tenant is sending faster than its rate limit; "
                      "send it again after Retry-After seconds.",
                      headers={"Retry-After": str(max(1, math.ceil(wait)))})


def check_content_type(req: Request) -> None:
    """415 unless the body is declared application/json (a charset parameter, if any, must be UTF-8)."""
    charset = req.mimetype_params.get("charset", "utf-8").lower()
    if req.mimetype != "application/json" or charset not in {"utf-8", "utf8"}:
        raise Problem(problems.UNSUPPORTED_MEDIA_TYPE,
                      "The body must be sent with Content-Type: application/json (UTF-8).")


def decode(raw: bytes) -> Any:
    """400 unless the body is strict JSON (see gateway.json_body)."""
    try:
        return json_body.loads(raw)
    except json_body.MalformedJson as exc:
        raise Problem(problems.MALFORMED_JSON, f"The body is not valid JSON: {exc}") from None


def rules_of(tenant_id: str) -> BuyerRules:
    """The tenant's buyer rules (default country, its own values that identify nobody), cached like its
    secrets; 503 when the store is down."""
    return from_tenants_store(dependencies().buyer_rules, tenant_id)


def validate(document: Any, received_at: datetime, rules: BuyerRules,
             field_name: Callable[[str], str] | None = None) -> events_pb2.Sale | events_pb2.Release:
    """422 with the list of failing fields unless the payload rules of its event type hold: a sale (phone
    numbers without a country code read in the tenant's default country), a refund or a void.
    `field_name` names a failing field where the sender sees it (a platform's body), when not as is."""
    try:
        return payload.parse_event(document, received_at, default_country=rules.default_country)
    except payload.PayloadInvalid as exc:
        raise invalid_payload(exc, field_name) from None


def invalid_payload(exc: payload.PayloadInvalid, field_name: Callable[[str], str] | None = None) -> Problem:
    """The 422 listing every failing field (renamed by `field_name` when given)."""
    name = field_name or (lambda field: field)
    return Problem(problems.INVALID_PAYLOAD, "The payload breaks the rules; see errors.",
                   errors=[{"field": name(e.field), "message": e.message} for e in exc.errors])


def publish(event: events_pb2.WebhookEvent, sender: authentication.Sender) -> bool:
    """Publish durably (PubAck) and say whether the event was stored before (a duplicate).

    503 + Retry-After when JetStream does not accept it in time. A duplicate (same event id, so same
    transaction_id, within the duplicate window) is compared by content digest with the message stored
    first, read back by the sequence its PubAck names: the same content is a retry (True: 202 with
    `duplicate: true`), other content a correction, refused with 409 (the stored sale stays as it was).
    A stored message without a digest (accepted before digests existed) or no longer there counts as a
    retry. Publish and read share GATEWAY_PUBLISH_TIMEOUT_SECONDS; a read that fails is a 503 too. The
    publish wait is observed in metrics.PUBLISH_SECONDS either way. The message names how it was signed
    and the sender's delivery id (a Standard Webhooks webhook-id, a platform's), for tracing."""
    content = event_ids.content_of(event)
    digest = event_ids.content_digest(content)
    headers = work_message.headers(event.event_id, event.tenant_id, digest=digest, source=sender.source,
                                   delivery_id=sender.delivery_id)
    data = event.SerializeToString()
    publisher = dependencies().publisher
    timeout = current_app.config["PUBLISH_TIMEOUT_SECONDS"]
    ids_extra = {"event_id": event.event_id, "tenant_id": event.tenant_id}

    def unavailable() -> Problem:
        """The 503: the sender sends it again later."""
        return Problem(problems.UNAVAILABLE, "The event could not be stored right now; send it again later "
                       "(a repeat of the same sale is recognised and processed once).", headers=retry_after())

    started = time.perf_counter()
    try:
        published = publisher.publish(bus.subject_for(event.tenant_id), data, headers, timeout)
    except PublishError as exc:
        log.warning("event %s not stored: %s", event.event_id, exc, extra=ids_extra)
        raise unavailable() from None
    finally:
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
    if not published.duplicate:
        return False
    try:
        stored = publisher.stored_headers(published.sequence, timeout - (time.perf_counter() - started))
    except PublishError as exc:
        log.warning("event %s is a duplicate, and the message stored for it could not be read to compare: %s",
                    event.event_id, exc, extra=ids_extra)
        raise unavailable() from None
    if stored is None:
        log.warning("event %s is a duplicate of stream message %d, which is gone: its content cannot be "
                    "compared, answered as a retry", event.event_id, published.sequence, extra=ids_extra)
        return True
    if event_ids.is_correction(stored.get(work_message.HEADER_CONTENT_DIGEST), digest):
        log.info("event %s refused: its transaction was accepted before with other content", event.event_id,
                 extra=ids_extra)
        raise Problem(problems.TRANSACTION_CONFLICT, conflict_detail(content), extra={"event_id": event.event_id})
    return True


def conflict_detail(content: events_pb2.Sale | events_pb2.Release) -> str:
    """What the 409 says: which event was accepted before with other content, and what a correction needs."""
    transaction = json.dumps(content.transaction_id, ensure_ascii=False)
    if isinstance(content, events_pb2.Release) and content.kind == events_pb2.Release.KIND_REFUND:
        return (f"refund_id {json.dumps(content.refund_id, ensure_ascii=False)} of transaction_id {transaction} was "
                "already accepted with different content; a corrected refund needs a new refund_id.")
    if isinstance(content, events_pb2.Release):
        return f"the void of transaction_id {transaction} was already accepted with different content."
    return (f"transaction_id {transaction} was already accepted with different content; a corrected sale needs "
            "a new transaction_id.")


@bp.after_request
def count_request(response: Response) -> Response:
    """Count every webhook answer by tenant and status; the tenant is named only once its signature
    was verified (g.tenant_id), so a stranger cannot add label values."""
    metrics.WEBHOOK_REQUESTS.labels(g.get("tenant_id") or metrics.UNKNOWN_TENANT, str(response.status_code)).inc()
    return response


@bp.post("/v1/webhooks/inbound/<tenant_id>")
def inbound(tenant_id: str):
    """Accept one signed event (a sale, a refund or a void): verify, validate, publish, answer 202 with its
    event id."""
    raw = read_capped_body(request, current_app.config["MAX_BODY_BYTES"])
    metrics.BODY_BYTES.observe(len(raw))
    sender = authentication.authenticate_webhook(tenant_id, raw, request.headers)
    g.tenant_id = tenant_id
    limit_rate(tenant_id)
    check_content_type(request)
    document = decode(raw)
    received_at = timestamps.now()
    rules = rules_of(tenant_id)
    return accept(tenant_id, validate(document, received_at, rules), raw, received_at, rules, sender)


def accept(tenant_id: str, content: events_pb2.Sale | events_pb2.Release, raw: bytes, received_at: datetime,
           rules: BuyerRules, sender: authentication.Sender):
    """Build the validated event's bus message, publish it durably (publish's 503 and 409 apply) and
    answer 202 {"event_id", "status": "accepted", "duplicate"}: the end of every sender's endpoint."""
    event = payload.build_event(tenant_id, content, raw, received_at, rules)
    g.event_id = event.event_id
    duplicate = publish(event, sender)
    g.duplicate = duplicate
    return accepted_response(event.event_id, duplicate)


def accepted_response(event_id: str, duplicate: bool) -> Response:
    """The 202 body, {"event_id", "status": "accepted", "duplicate"}, serialised directly: the answer to
    every accepted webhook, where Flask's jsonify (its JSON provider, sorted keys) cost twice as much."""
    body = json.dumps({"event_id": event_id, "status": "accepted", "duplicate": duplicate}, separators=(",", ":"))
    return Response(body + "\n", 202, mimetype="application/json")
