"""Giving up on a message: copy it to the dead-letter stream, where an operator can list and replay it
(processor/dead_letter_admin.py). The entry's format is common/dead_letter_message.py.
"""

from __future__ import annotations

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import PubAck

from common import bus, dead_letter_message
from common.work_message import Identity

PUBLISH_TIMEOUT_SECONDS = 5.0


def headers_for(msg: Msg, identity: Identity, reason: str, deliveries: int) -> dict[str, str]:
    """The dead-letter copy's headers (reason is one line without personal data)."""
    return dead_letter_message.headers(identity=identity, original_subject=msg.subject, original_headers=msg.headers,
                                       work_sequence=msg.metadata.sequence.stream, reason=reason,
                                       deliveries=deliveries)


async def publish(js: JetStreamContext, msg: Msg, identity: Identity, reason: str, deliveries: int) -> PubAck:
    """Store a copy of `msg` in the dead-letter stream and wait for JetStream's acknowledgement."""
    return await js.publish(
        bus.dead_letter_subject_for(identity.tenant_id),
        msg.data,
        timeout=PUBLISH_TIMEOUT_SECONDS,
        stream=bus.DEAD_LETTER_STREAM,
        headers=headers_for(msg, identity, reason, deliveries),
    )
