"""A domain event: what the system did, for other internal services (e.g. one that sends the buyer a
certificate of authenticity when a product is linked to them), on stream DOMAIN_EVENTS.

The processor publishes one per effect, after the event's effects and its outcome are committed; this
module spells the format once, for it and for any consumer.

Body: an `autentikapp.v1.IdentifierEvent` (protos/autentikapp/v1/domain_events.proto): kind, tenant,
code, customer id, the event that made it, its transaction and time. No personal data.
Subject: `domain.identifier.linked.<tenant_id>` or `domain.identifier.released.<tenant_id>`.
Nats-Msg-Id: `<event id>:<code>:linked` or `...:released`: stable for one effect, so publishing it again
(a redelivered event, a replay) is stored once within the duplicate window. Delivery is at least once:
a consumer treats a repeat after the window as the same fact.
"""

from __future__ import annotations

from autentikapp.v1 import domain_events_pb2
from common import bus
from common.work_message import HEADER_EVENT_ID, HEADER_MSG_ID, HEADER_TENANT_ID

IdentifierEvent = domain_events_pb2.IdentifierEvent
LINKED, RELEASED = IdentifierEvent.KIND_LINKED, IdentifierEvent.KIND_RELEASED
_NAMES = {LINKED: "linked", RELEASED: "released"}


def subject_for(event: domain_events_pb2.IdentifierEvent) -> str:
    """Where the event goes: its kind, then its tenant (a consumer may filter on either)."""
    return f"{bus.DOMAIN_PREFIX}.identifier.{_NAMES[event.kind]}.{event.tenant_id}"


def msg_id(event: domain_events_pb2.IdentifierEvent) -> str:
    """The Nats-Msg-Id of one effect: the same effect published twice is stored once."""
    return f"{event.event_id}:{event.code}:{_NAMES[event.kind]}"


def headers(event: domain_events_pb2.IdentifierEvent) -> dict[str, str]:
    """The headers: its message id, and the ids logs follow."""
    return {HEADER_MSG_ID: msg_id(event), HEADER_EVENT_ID: event.event_id, HEADER_TENANT_ID: event.tenant_id}
