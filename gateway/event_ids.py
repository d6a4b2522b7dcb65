"""Event ids and content digests.

The event id is deterministic from (tenant_id, event_type, transaction_id), and a refund's also from its
refund_id: a sender's retry of the same sale, refund or void gets the same id; two refunds of one sale get
two ids, and a sale, its refunds and its void never share one. The id is the JetStream `Nats-Msg-Id`, so
the retry is stored once and answered `duplicate: true`.

The content digest says whether such a repeat is a retry or a correction. It covers the validated sale or
release (after the payload rules normalised it), except its `event_timestamp`: a POS that stamps each retry
with the time it sends it is still retrying, not correcting. The gateway puts it on every work message
(header `Autentikapp-Content-Digest`); a repeat whose digest differs from the stored message's is
refused with 409 (gateway/webhooks.py).
"""

from __future__ import annotations

import hashlib
import re
from decimal import Context, Decimal, InvalidOperation

from autentikapp.v1 import events_pb2

PREFIX = "evt_"
_DOMAIN = b"autentikapp.event-id.v1"
# The digest's version, part of its value: a stored digest of another version is not compared (see
# gateway/webhooks.py). Bump it whenever the same request would give another digest: what is hashed
# changes, or the payload rules change the Sale or Release they build (tests/unit/test_gateway_parts.py
# and tests/unit/test_gateway_release_payload.py pin digests of examples to catch the latter).
DIGEST_VERSION = "v1"
_DIGEST_DOMAIN = b"autentikapp.content-digest." + DIGEST_VERSION.encode()
_RELEASE_DIGEST_DOMAIN = _DIGEST_DOMAIN + b".release"
_PLAIN_AMOUNT = re.compile(r"([0-9]+)(?:\.([0-9]*))?")


def _length_prefixed(*parts: str) -> bytes:
    """An unambiguous encoding: each part as 4-byte big-endian length + UTF-8 bytes ("a|b" != "a" "|b")."""
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8")
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


def event_id(tenant_id: str, event_type: str, transaction_id: str, *qualifiers: str) -> str:
    """`evt_` + 32 hex characters (128 bits) of SHA-256 over the length-prefixed parts. A sale and a void
    are named by the triple; a refund adds its refund_id as a qualifier (the encoding tells a triple from a
    quadruple, and the event types differ anyway)."""
    parts = _length_prefixed(tenant_id, event_type, transaction_id, *qualifiers)
    return PREFIX + hashlib.sha256(_DOMAIN + parts).hexdigest()[:32]


def content_of(event: events_pb2.WebhookEvent) -> events_pb2.Sale | events_pb2.Release:
    """What an event carries: its release (a refund or a void) when it has one, else its sale."""
    return event.release if event.HasField("release") else event.sale


def content_digest(content: events_pb2.Sale | events_pb2.Release) -> str:
    """The digest of a validated sale (`sale_digest`) or release (`release_digest`)."""
    if isinstance(content, events_pb2.Release):
        return release_digest(content)
    return sale_digest(content)


def sale_digest(sale: events_pb2.Sale) -> str:
    """`v1:` + 32 hex characters (128 bits) of SHA-256 over the sale's deterministic protobuf encoding,
    with `event_timestamp` cleared and amounts in one canonical form.

    Equal for two requests whose validated sales differ in nothing else: not in line items (nor their
    order), amounts, currency or the buyer. What the payload rules normalise does not count (JSON spacing
    and key order, an e-mail's case, unknown extra fields), and neither does how an amount is written
    (950000.00, 950000.0 and 950000 are one amount, though the Sale keeps the digits as sent)."""
    content = events_pb2.Sale()
    content.CopyFrom(sale)
    content.ClearField("event_timestamp")
    content.total_amount = _canonical_amount(content.total_amount)
    for item in content.line_items:
        if item.unit_price:
            item.unit_price = _canonical_amount(item.unit_price)
    digest = hashlib.sha256(_DIGEST_DOMAIN + content.SerializeToString(deterministic=True)).hexdigest()
    return f"{DIGEST_VERSION}:{digest[:32]}"


def release_digest(release: events_pb2.Release) -> str:
    """`v1:` + 32 hex characters (128 bits) of SHA-256 over the release's deterministic protobuf encoding,
    with `event_timestamp` cleared and its codes as a set (each once, sorted), in a domain of its own.

    Equal for two requests that refund the same codes (in any order, one named twice or not) or void the
    same sale; a refund resent with other codes, or with codes after none (every product), differs: that is
    a correction, not a retry."""
    content = events_pb2.Release()
    content.CopyFrom(release)
    content.ClearField("event_timestamp")
    codes = sorted(set(content.codes))
    del content.codes[:]
    content.codes.extend(codes)
    digest = hashlib.sha256(_RELEASE_DIGEST_DOMAIN + content.SerializeToString(deterministic=True)).hexdigest()
    return f"{DIGEST_VERSION}:{digest[:32]}"


def _canonical_amount(text: str) -> str:
    """A decimal amount without trailing zeros or exponent ("950000.00" -> "950000", "1.50" -> "1.5"); ""
    and anything that is not a finite decimal stay as they are."""
    if not text:
        return text
    plain = _PLAIN_AMOUNT.fullmatch(text)
    if plain:  # the usual form, without the cost of decimal arithmetic
        whole = plain.group(1).lstrip("0") or "0"
        fraction = (plain.group(2) or "").rstrip("0")
        return f"{whole}.{fraction}" if fraction else whole
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    exact = Context(prec=len(text) + 2)  # enough digits for any amount the text can hold: nothing is rounded
    return format(value.normalize(exact), "f") if value else "0"


def is_correction(stored_digest: str | None, digest: str) -> bool:
    """True when a repeat of an event id brings other content than the message stored under it: the
    stored digest is of this version and differs from `digest`. A stored message without a digest (from
    before digests existed) or with one of another version cannot be compared: it counts as a retry."""
    if not stored_digest or not stored_digest.startswith(DIGEST_VERSION + ":"):
        return False
    return stored_digest != digest
