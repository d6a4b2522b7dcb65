"""Handling one JetStream message from delivery to ack, nak or term.

The order is what makes it safe: process the event (both services confirm), record its outcome,
and only then ack. A transient failure naks with a growing delay; a permanent one (or the last
delivery of a transient one) copies the message to the dead-letter stream, records `dead_lettered`,
and only after that terms the original. A failure of one message never touches the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from autentikapp.v1 import events_pb2
from common import logs
from common.work_message import Identity
from processor import dead_lettering, failures, messages, metrics, outcomes, work
from processor.outcomes import EventOutcome

log = logging.getLogger("processor")

Recorder = Callable[[EventOutcome], Awaitable[None]]
EffectsPublish = Callable[[list[Any]], Awaitable[None]]


@dataclass(frozen=True)
class Policy:
    """Redelivery rules: delays, the consumer's max_deliver (None = unlimited), the lower bound for
    unexpected errors, and how often to tell JetStream a long message is still being worked on."""

    retry_delays: tuple[float, ...]
    max_deliver: int | None  # the processor's own last attempt
    unexpected_max_deliveries: int
    heartbeat_seconds: float
    consumer_max_deliver: int | None = None  # JetStream's: max_deliver plus the reserve (common/bus.py)

    def in_reserve(self, deliveries: int) -> bool:
        """True for a delivery after the processor's last attempt: that attempt did not settle the message."""
        return self.max_deliver is not None and deliveries > self.max_deliver

    def is_final(self, deliveries: int) -> bool:
        """True for the last delivery JetStream makes: after it, an unsettled message is dropped."""
        limit = self.consumer_max_deliver or self.max_deliver
        return limit is not None and deliveries >= limit


@dataclass(frozen=True)
class Action:
    """How to settle a message: "ack", "nak" (after `delay` seconds), "term", or "none" (leave it)."""

    verb: str
    delay: float = 0.0


ACK, TERM, LEAVE = Action("ack"), Action("term"), Action("none")
# The result each settlement counts as in metrics.MESSAGES.
_RESULT = {"ack": metrics.PROCESSED, "nak": metrics.RETRY, "term": metrics.DEAD_LETTERED, "none": metrics.KEPT}


class Heartbeat:
    """Tells JetStream that the messages being handled are still in progress, so a slow message is not
    redelivered to another replica when ack_wait runs out.

    One task serves every message in hand (a task per message cost more than the rest of the handling
    once calls were batched): every interval/2 it sends +WPI for each message whose last sign of life
    is `interval` old, so no message goes more than 1.5 × interval without one. It is cancelled when the
    last message is released and starts again with the next.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._held: dict[int, list[Any]] = {}  # id(msg) -> [msg, loop time of its last sign of life]
        self._task: asyncio.Task | None = None

    @contextlib.contextmanager
    def holding(self, msg: Msg) -> Iterator[None]:
        """Keep `msg` alive while the block runs."""
        loop = asyncio.get_running_loop()
        self._held[id(msg)] = [msg, loop.time()]
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._beat())
        try:
            yield
        finally:
            self._held.pop(id(msg), None)
            if not self._held and self._task is not None:
                self._task.cancel()  # nothing left to keep alive: no task outlives the work
                self._task = None

    async def _beat(self) -> None:
        """Send +WPI for the messages that need one, until none is held; a lost one only risks a redelivery."""
        loop = asyncio.get_running_loop()
        while self._held:
            await asyncio.sleep(self.interval / 2)
            now = loop.time()
            for entry in list(self._held.values()):
                if now - entry[1] >= self.interval:
                    entry[1] = now
                    with contextlib.suppress(Exception):
                        await entry[0].in_progress()


def log_extra(identity: Identity, **fields: Any) -> dict[str, Any]:
    """`extra` for a log call: the event's ids, and structured fields for JSON logs."""
    return logs.event_extra(identity.event_id, identity.tenant_id, **fields)


def count_processed(event: events_pb2.WebhookEvent, outcome: EventOutcome) -> None:
    """Metrics of an event whose outcome is recorded: its line items by outcome, and the time since the
    gateway received it (bus, queueing and retries included)."""
    for name, count in outcome.counts().items():
        metrics.LINE_ITEMS.labels(name).inc(count)
    if event.HasField("received_at"):
        metrics.EVENT_LATENCY.observe(max(0.0, time.time() - event.received_at.ToNanoseconds() / 1e9))


def stream_sequence(msg: Msg) -> int:
    """The message's sequence in the work stream (what an operator looks it up by)."""
    return msg.metadata.sequence.stream


class MessageHandler:
    """Handles messages one call at a time; safe to run many calls concurrently."""

    def __init__(self, js: JetStreamContext, calls: work.ServiceCalls, record: Recorder, policy: Policy,
                 publish_effects: EffectsPublish) -> None:
        """`record` stores an EventOutcome (outcomes.record on a pooled connection in production);
        `publish_effects` publishes an event's domain events (domain_events.EffectPublisher.publish)."""
        self.js = js
        self.publish_effects = publish_effects
        self.calls = calls
        self.record = record
        self.policy = policy
        self.heartbeat = Heartbeat(policy.heartbeat_seconds)

    async def handle(self, msg: Msg) -> None:
        """Process and settle one message. Never raises, except CancelledError when the processor stops:
        then a message not yet settled is nak'ed without delay, for another replica to take at once."""
        action: Action | None = None
        try:
            with self.heartbeat.holding(msg):
                action = await self._decide(msg)
            await self._settle(msg, action)
            metrics.MESSAGES.labels(_RESULT[action.verb]).inc()
        except asyncio.CancelledError:
            if action is None:  # nothing decided yet: hand it back now
                with contextlib.suppress(Exception):
                    await msg.nak()
                metrics.MESSAGES.labels(metrics.HANDED_BACK).inc()
            raise
        except Exception as exc:  # noqa: BLE001 - a bug here must not stop the loop; ack_wait redelivers
            metrics.MESSAGES.labels(metrics.ERROR).inc()
            log.error("failed to handle the message at stream sequence %s: %s\n%s", _sequence_or_unknown(msg),
                      type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))

    async def _decide(self, msg: Msg) -> Action:
        """Run the event to a recorded outcome, or decide what to do about its failure."""
        deliveries = msg.metadata.num_delivered
        if deliveries > 1:
            metrics.REDELIVERIES.inc()
        identity = messages.identity(msg)
        event: events_pb2.WebhookEvent | None = None  # once decoded: its transaction and type go on a dead letter
        if self.policy.in_reserve(deliveries):
            with contextlib.suppress(Exception):  # the ids, when the bytes are an event (decoding runs nothing)
                event = messages.decode(msg)
                identity = Identity(event.event_id, event.tenant_id)
            # The last attempt (delivery max_deliver) neither processed it nor dead-lettered it: the
            # processor stopped in its middle, or the dead-letter copy failed. Processing again could crash
            # again; a dead letter is safe and replayable. JetStream would drop it after the reserve.
            return await self._dead_letter(
                msg, identity, deliveries, f"its last attempt (delivery {self.policy.max_deliver}) did not settle "
                f"it: the processor stopped while handling it, or could not dead-letter it; delivery {deliveries}",
                failures.Kind.UNEXPECTED, event)
        try:
            event = messages.decode(msg)
            identity = Identity(event.event_id, event.tenant_id)
            outcome = await work.process_event(event, self.calls)
            outcome.deliveries = deliveries
            await self.record(outcome)
            await self.publish_effects(outcome.effects)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below; nothing escapes one message
            return await self._after_failure(msg, identity, deliveries, exc, event)
        count_processed(event, outcome)
        counts = outcome.counts()
        log.info(
            "event %s processed: %s (delivery %d)", identity.event_id,
            " ".join(f"{name}={count}" for name, count in counts.items()) or "no line items", deliveries,
            extra=log_extra(identity, status=outcome.status, outcomes=counts, deliveries=deliveries,
                            customer_created=outcome.customer_created, clashes=len(outcome.clashes)),
        )
        return ACK

    async def _after_failure(self, msg: Msg, identity: Identity, deliveries: int, exc: Exception,
                             event: events_pb2.WebhookEvent | None = None) -> Action:
        """Retry later (nak with a delay) while deliveries remain for this kind of failure, else dead-letter
        (`event`: the message decoded, None when it does not decode)."""
        kind = failures.classify(exc)
        if kind is failures.Kind.UNEXPECTED:
            log.error("event %s: unexpected %s (delivery %d)\n%s", identity.event_id or "?", type(exc).__name__,
                      deliveries, "".join(traceback.format_tb(exc.__traceback__)), extra=log_extra(identity))
        policy = self.policy
        if failures.should_retry(kind, deliveries, policy.max_deliver, policy.unexpected_max_deliveries):
            delay = failures.retry_delay(deliveries, policy.retry_delays)
            log.warning("event %s will be retried in %gs (delivery %d): %s", identity.event_id or "?", delay,
                        deliveries, failures.reason(exc),
                        extra=log_extra(identity, status="retrying", deliveries=deliveries, delay=delay))
            return Action("nak", delay)
        return await self._dead_letter(msg, identity, deliveries, failures.reason(exc, deliveries), kind, event)

    async def _dead_letter(self, msg: Msg, identity: Identity, deliveries: int, reason: str,
                           kind: failures.Kind, event: events_pb2.WebhookEvent | None = None) -> Action:
        """Copy to the dead-letter stream, record `dead_lettered` (with the event's transaction and type
        when `event`, the message decoded, says them), then term; retry if either step fails.
        `kind` (the failure's) labels the dead-letter count."""
        retry = Action("nak", failures.retry_delay(deliveries, self.policy.retry_delays))
        last_delivery = self.policy.is_final(deliveries)
        try:
            await dead_lettering.publish(self.js, msg, identity, reason, deliveries)
        except Exception as exc:  # noqa: BLE001 - NATS down or slow: try again on the next delivery
            if not last_delivery:
                log.warning("event %s: dead-letter publish failed (%s); retrying in %gs", identity.event_id or "?",
                            type(exc).__name__, retry.delay, extra=log_extra(identity))
                return retry
            log.error("event %s: could not dead-letter it on its last delivery (%s); it stays in stream %s at "
                      "sequence %d", identity.event_id or "?", type(exc).__name__, msg.metadata.stream,
                      stream_sequence(msg), extra=log_extra(identity))
            return LEAVE
        if identity.event_id:
            transaction_id, event_type = work.transaction_and_type(event) if event is not None else (None, None)
            outcome = EventOutcome(identity.event_id, identity.tenant_id, outcomes.DEAD_LETTERED, deliveries,
                                   reason=reason, transaction_id=transaction_id, event_type=event_type)
            try:
                await self.record(outcome)
            except Exception as exc:  # noqa: BLE001 - the dead-letter copy exists; retrying only adds the record
                if not last_delivery and failures.classify(exc) is failures.Kind.TRANSIENT:
                    log.warning("event %s: dead-lettered but its outcome was not recorded (%s); retrying in %gs",
                                identity.event_id, failures.reason(exc), retry.delay, extra=log_extra(identity))
                    return retry
                log.error("event %s: dead-lettered but its outcome was not recorded (%s)", identity.event_id,
                          failures.reason(exc), extra=log_extra(identity))
        log.warning("event %s dead-lettered (delivery %d, stream sequence %d): %s", identity.event_id or "?",
                    deliveries, stream_sequence(msg), reason,
                    extra=log_extra(identity, status=outcomes.DEAD_LETTERED, reason=reason, deliveries=deliveries))
        metrics.DEAD_LETTERS.labels(kind.value).inc()
        return TERM

    async def _settle(self, msg: Msg, action: Action) -> None:
        """Send the ack, nak or term; a lost answer only means a redelivery after ack_wait (harmless)."""
        try:
            if action.verb == "ack":
                await msg.ack()
            elif action.verb == "nak":
                await msg.nak(delay=action.delay or None)
            elif action.verb == "term":
                await msg.term()
        except Exception as exc:  # noqa: BLE001
            log.warning("could not %s the message at stream sequence %d (%s); JetStream redelivers it after "
                        "ack_wait", action.verb, stream_sequence(msg), type(exc).__name__)


def _sequence_or_unknown(msg: Msg) -> str:
    """The stream sequence for a log line, or "?" when the message has no JetStream metadata."""
    try:
        return str(stream_sequence(msg))
    except Exception:  # noqa: BLE001
        return "?"
