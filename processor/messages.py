"""Reading a bus message: who it is about (event id, tenant id) and the WebhookEvent it carries."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg

from autentikapp.v1 import events_pb2
from common import bus, ids
from processor.failures import PermanentFailure

SUPPORTED_SCHEMA_VERSIONS = (0, 1)  # 0: unset, read as 1


@dataclass(frozen=True)
class Identity:
    """The event and tenant a message is about, as far as they are known ("" when not)."""

    event_id: str
    tenant_id: str


def identity(msg: Msg) -> Identity:
    """Who the message is about without decoding it: the gateway's headers, else the subject.

    Used to log and dead-letter a message whose body cannot be read. The Nats-Msg-Id stands in for a
    missing event id header, except a replay's ("<event id>:replay:<n>"), which names no event.
    """
    headers = msg.headers or {}
    msg_id = headers.get(bus.HEADER_MSG_ID) or ""
    if bus.is_replay_msg_id(msg_id):
        msg_id = ""
    event_id = headers.get(bus.HEADER_EVENT_ID) or msg_id
    tenant_id = headers.get(bus.HEADER_TENANT_ID) or ""
    prefix = bus.SUBJECT_PREFIX + "."
    if not tenant_id and msg.subject.startswith(prefix):
        tenant_id = msg.subject[len(prefix):]
    return Identity(
        event_id=event_id if ids.is_event_id(event_id) else "",
        tenant_id=tenant_id if ids.is_tenant_id(tenant_id) else "",
    )


def decode(msg: Msg) -> events_pb2.WebhookEvent:
    """The message's WebhookEvent; PermanentFailure when it is not one we can process."""
    event = events_pb2.WebhookEvent()
    try:
        event.ParseFromString(msg.data)
    except DecodeError:
        raise PermanentFailure("not a WebhookEvent protobuf") from None
    if event.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        raise PermanentFailure(f"unsupported schema_version {event.schema_version}")
    if not event.event_id:
        raise PermanentFailure("event_id is missing")
    if not ids.is_event_id(event.event_id):
        raise PermanentFailure("event_id is malformed")
    if not event.tenant_id:
        raise PermanentFailure("tenant_id is missing")
    if not ids.is_tenant_id(event.tenant_id):
        raise PermanentFailure("tenant_id is malformed")
    if msg.subject != bus.subject_for(event.tenant_id):
        raise PermanentFailure("tenant_id does not match the message subject")
    return event
