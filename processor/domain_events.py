"""Publishing an event's effects as domain events (common/domain_event_message.py), once its effects and
its outcome are committed and before its message is acked: a failure here is transient (the message is
redelivered, its effects are idempotent, its outcome is rewritten the same, and the effects published
again are stored once, by their stable message ids).

`EffectPublisher` is what the processor uses: nats-py's `js.publish` is a request per message (a new
inbox token, a future, a `wait_for` timer and, under `gather`, a task each), which was a fifth of the
processor's CPU with three codes per sale (docs/BENCHMARKS.md, round 2). It PUBs an event's effects back
to back, each with its own reply subject under one inbox subscription, and awaits their PubAcks together
under one deadline: what js.publish does on the wire, with the same answers (the
`Nats-Expected-Stream` header, a JetStream error answer raised as nats-py's APIError, "no responders"
as NoRespondersError, no PubAck in time as nats-py's TimeoutError), all of which the handler treats as
transient.
"""

from __future__ import annotations

import asyncio
import itertools

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import Header

from autentikapp.v1 import domain_events_pb2
from common import bus, domain_event_message

PUBLISH_TIMEOUT_SECONDS = 5.0


class EffectPublisher:
    """Domain events over one NATS connection: one inbox subscription for every PubAck, one future each."""

    def __init__(self, nc: Client, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        """Call start() before the first publish."""
        self._nc = nc
        self._timeout = timeout
        self._prefix = ""
        self._numbers = itertools.count()
        self._awaiting: dict[str, asyncio.Future] = {}

    async def start(self) -> "EffectPublisher":
        """Subscribe to this publisher's inbox (nats-py renews the subscription after a reconnect)."""
        self._prefix = self._nc.new_inbox() + "."
        await self._nc.subscribe(self._prefix + "*", cb=self._on_reply)
        return self

    async def publish(self, effects: list[domain_events_pb2.IdentifierEvent]) -> None:
        """Publish every effect to the domain stream and return once JetStream stored all of them; raise
        as js.publish does (see the module's docstring) on the first that was not."""
        if not effects:
            return
        loop = asyncio.get_running_loop()
        replies: list[str] = []
        try:
            for effect in effects:
                reply = f"{self._prefix}{next(self._numbers)}"
                self._awaiting[reply] = loop.create_future()
                replies.append(reply)
                await self._nc.publish(domain_event_message.subject_for(effect), effect.SerializeToString(),
                                       reply=reply, headers={**domain_event_message.headers(effect),
                                                             Header.EXPECTED_STREAM: bus.DOMAIN_STREAM})
            try:
                async with asyncio.timeout(self._timeout):
                    for reply in replies:
                        await self._awaiting[reply]
            except TimeoutError:
                raise nats.errors.TimeoutError from None
        finally:
            for reply in replies:
                future = self._awaiting.pop(reply, None)
                if future is not None and not future.done():
                    future.cancel()

    async def _on_reply(self, msg: Msg) -> None:
        """JetStream's answer to one effect (common.bus.read_pub_ack): settles that effect's future."""
        future = self._awaiting.get(msg.subject)
        if future is None or future.done():  # given up on already (deadline, a sibling's failure)
            return
        try:
            bus.read_pub_ack(msg)
        except nats.errors.Error as exc:  # NoRespondersError, an APIError
            future.set_exception(exc)
        else:
            future.set_result(None)
