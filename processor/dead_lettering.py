"""Publishing a message that cannot succeed to the dead-letter stream, where an operator can list and
replay it.

The original bytes are kept unchanged; headers say why, where it came from and how often it was
delivered. Nats-Msg-Id = "<event id>:<stream sequence>", so a dead-letter publish repeated after a crash
(or after a failed outcome write) is stored once. A message that was itself a replay (processor/dead_letter_admin.py)
keeps its replay count, so the new entry shows it came back.
"""

from __future__ import annotations

import re

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import PubAck

from common import bus
from processor.messages import Identity

PUBLISH_TIMEOUT_SECONDS = 5.0
_COUNT = re.compile(r"[0-9]{1,9}")


def message_id(identity: Identity, stream_sequence: int) -> str:
    """The dead-letter copy's Nats-Msg-Id: stable for one message of the work stream."""
    return f"{identity.event_id or 'unknown'}:{stream_sequence}"


def replays_of(msg: Msg) -> str:
    """The message's replay count header, when it is a positive number ("" otherwise)."""
    value = str((msg.headers or {}).get(bus.HEADER_REPLAYS) or "").strip()
    return value if _COUNT.fullmatch(value) and int(value) > 0 else ""


def headers_for(msg: Msg, identity: Identity, reason: str, deliveries: int) -> dict[str, str]:
    """The dead-letter copy's headers (reason is one line without personal data)."""
    headers = {
        bus.HEADER_MSG_ID: message_id(identity, msg.metadata.sequence.stream),
        bus.HEADER_DEAD_REASON: reason,
        bus.HEADER_DEAD_SUBJECT: msg.subject,
        bus.HEADER_DEAD_DELIVERIES: str(deliveries),
        bus.HEADER_EVENT_ID: identity.event_id,
        bus.HEADER_TENANT_ID: identity.tenant_id,
        bus.HEADER_REPLAYS: replays_of(msg),
    }
    return {name: value for name, value in headers.items() if value}


async def publish(js: JetStreamContext, msg: Msg, identity: Identity, reason: str, deliveries: int) -> PubAck:
    """Store a copy of `msg` in the dead-letter stream and wait for JetStream's acknowledgement."""
    return await js.publish(
        bus.dead_letter_subject_for(identity.tenant_id),
        msg.data,
        timeout=PUBLISH_TIMEOUT_SECONDS,
        stream=bus.DEAD_LETTER_STREAM,
        headers=headers_for(msg, identity, reason, deliveries),
    )
