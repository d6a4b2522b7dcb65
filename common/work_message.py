"""The work message: one accepted event on `webhooks.inbound.<tenant>` (stream WEBHOOKS).

The gateway writes it, a dead-letter replay writes it again, the processor reads it: all through this
module, so the format is spelled once.

Body: an `autentikapp.v1.WebhookEvent` (protos/autentikapp/v1/events.proto). Headers, so that logs and
dead letters can name the event without decoding the body:
- `Nats-Msg-Id`: the event id, so JetStream stores a sender's retry once within the duplicate window;
  a replay's is `<event id>:replay:<dead-letter sequence>` (see `replay_msg_id`);
- `Autentikapp-Event-Id`, `Autentikapp-Tenant-Id`: who the message is about;
- `Autentikapp-Content-Digest`: the digest of its validated sale without its event_timestamp
  (gateway.event_ids.content_digest), so that a repeat of the event id can be told apart: the same
  content is a retry (202 duplicate), other content a correction the gateway refuses (409). Absent on
  messages from before it existed; a replay carries the original's;
- `Autentikapp-Replays`: how often it was replayed from the dead-letter stream (absent: never).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from common import bus, ids

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EVENT_ID = "Autentikapp-Event-Id"
HEADER_TENANT_ID = "Autentikapp-Tenant-Id"
HEADER_REPLAYS = "Autentikapp-Replays"
HEADER_CONTENT_DIGEST = "Autentikapp-Content-Digest"
# How the gateway saw it signed (autentikapp, standard-webhooks, shopify, woocommerce) and the sender's own
# id of the delivery when it gave one: for tracing a sale back to the sender's logs, never for dedupe.
HEADER_SOURCE = "Autentikapp-Source"
HEADER_DELIVERY_ID = "Autentikapp-Delivery-Id"
REPLAY_ID_MARK = ":replay:"
_COUNT = re.compile(r"[0-9]{1,9}")


def headers(event_id: str, tenant_id: str, *, msg_id: str | None = None, digest: str = "",
            replays: int = 0, source: str = "", delivery_id: str = "") -> dict[str, str]:
    """The headers of a work message (the Nats-Msg-Id is the event id unless given; `digest` is the
    content digest); empty values are left out, and so is a replay count of 0."""
    values = {
        HEADER_MSG_ID: event_id if msg_id is None else msg_id,
        HEADER_EVENT_ID: event_id,
        HEADER_TENANT_ID: tenant_id,
        HEADER_CONTENT_DIGEST: digest,
        HEADER_REPLAYS: str(replays) if replays > 0 else "",
        HEADER_SOURCE: source,
        HEADER_DELIVERY_ID: delivery_id,
    }
    return {name: value for name, value in values.items() if value}


def replay_msg_id(event_id: str, dead_letter_sequence: int) -> str:
    """The Nats-Msg-Id of a dead letter's replay: "<event id>:replay:<dead-letter sequence>".

    Not the event id: the original is still inside the work stream's duplicate window and would be
    dropped. One id per dead-letter entry, so replaying the same entry twice is stored once.
    """
    return f"{event_id or 'unknown'}{REPLAY_ID_MARK}{dead_letter_sequence}"


def is_replay_msg_id(msg_id: str) -> bool:
    """True for a Nats-Msg-Id made by replay_msg_id (it names a replay, not an event)."""
    return REPLAY_ID_MARK in msg_id


def count(value: object) -> int | None:
    """A count header (replays, deliveries) as a number; None when absent or malformed."""
    text = str(value or "").strip()
    return int(text) if _COUNT.fullmatch(text) else None


def replays(message_headers: Mapping[str, str] | None) -> int:
    """How often the message was replayed (0 when the header is absent or malformed)."""
    return count((message_headers or {}).get(HEADER_REPLAYS)) or 0


@dataclass(frozen=True)
class Identity:
    """The event and tenant a message is about, as far as they are known ("" when not)."""

    event_id: str
    tenant_id: str


def identity(message_headers: Mapping[str, str] | None, subject: str) -> Identity:
    """Who the message is about without decoding its body: its headers, else its subject.

    Used to log and dead-letter a message whose body cannot be read. The Nats-Msg-Id stands in for a
    missing event id header, except a replay's, which names no event. Malformed ids count as unknown.
    """
    found = message_headers or {}
    msg_id = found.get(HEADER_MSG_ID) or ""
    if is_replay_msg_id(msg_id):
        msg_id = ""
    event_id = found.get(HEADER_EVENT_ID) or msg_id
    tenant_id = found.get(HEADER_TENANT_ID) or ""
    prefix = bus.SUBJECT_PREFIX + "."
    if not tenant_id and subject.startswith(prefix):
        tenant_id = subject[len(prefix):]
    return Identity(
        event_id=event_id if ids.is_event_id(event_id) else "",
        tenant_id=tenant_id if ids.is_tenant_id(tenant_id) else "",
    )
