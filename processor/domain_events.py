"""Publishing an event's effects as domain events (common/domain_event_message.py), once its effects and
its outcome are committed and before its message is acked: a failure here is transient (the message is
redelivered, its effects are idempotent, its outcome is rewritten the same, and the effects published
again are stored once, by their stable message ids)."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext

from autentikapp.v1 import domain_events_pb2
from common import bus, domain_event_message

PUBLISH_TIMEOUT_SECONDS = 5.0


async def publish(js: JetStreamContext, effects: list[domain_events_pb2.IdentifierEvent]) -> None:
    """Publish every effect and wait for each PubAck (all at once: a sale's codes travel together)."""
    await asyncio.gather(*(
        js.publish(domain_event_message.subject_for(effect), effect.SerializeToString(), stream=bus.DOMAIN_STREAM,
                   timeout=PUBLISH_TIMEOUT_SECONDS, headers=domain_event_message.headers(effect))
        for effect in effects))
