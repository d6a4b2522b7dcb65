"""Reading a work message (common/work_message.py): who it is about and the WebhookEvent it carries."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg

from autentikapp.v1 import events_pb2
from common import bus, ids, work_message
from common.work_message import Identity
from processor.failures import PermanentFailure

SUPPORTED_SCHEMA_VERSIONS = (0, 1)  # 0: unset, read as 1


def identity(msg: Msg) -> Identity:
    """Who the message is about without decoding it (common.work_message.identity)."""
    return work_message.identity(msg.headers, msg.subject)


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
