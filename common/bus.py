"""The bus contract: JetStream stream, subjects, consumer and headers, and their idempotent set-up.

Whichever process starts first (gateway or processor) creates the stream and the durable consumer;
the others find them. `ensure_*` is safe to call concurrently and on every start: an existing stream
is updated to the configured settings, an existing consumer is left as it is when it matches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from common.config import env_float, env_int, nats_url

log = logging.getLogger(__name__)

STREAM = "WEBHOOKS"
SUBJECT_PREFIX = "webhooks.inbound"
DEAD_LETTER_STREAM = "WEBHOOKS_DEAD"
DEAD_LETTER_PREFIX = "webhooks.dead"
CONSUMER = "processor"

# Headers every event message carries, so logs can follow a sale without decoding the body.
HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EVENT_ID = "Autentikapp-Event-Id"
HEADER_TENANT_ID = "Autentikapp-Tenant-Id"
# Dead-letter headers: why, and where the message came from.
HEADER_DEAD_REASON = "Autentikapp-Dead-Reason"
HEADER_DEAD_SUBJECT = "Autentikapp-Original-Subject"
HEADER_DEAD_DELIVERIES = "Autentikapp-Deliveries"
# How often the message was replayed from the dead-letter stream (absent: never); a dead-letter copy
# keeps it, so an entry that came back after a replay says so.
HEADER_REPLAYS = "Autentikapp-Replays"
REPLAY_ID_MARK = ":replay:"


def subject_for(tenant_id: str) -> str:
    """The subject of a tenant's events (tenant ids are validated to be subject-safe)."""
    return f"{SUBJECT_PREFIX}.{tenant_id}"


def dead_letter_subject_for(tenant_id: str) -> str:
    """The dead-letter subject of a tenant's events ("unknown" when the message could not be read)."""
    return f"{DEAD_LETTER_PREFIX}.{tenant_id or 'unknown'}"


def replay_msg_id(event_id: str, dead_letter_sequence: int) -> str:
    """The Nats-Msg-Id of a dead letter's replay: "<event id>:replay:<dead-letter sequence>".

    Not the event id: the original is still inside the work stream's duplicate window and would be
    dropped. One id per dead-letter entry, so replaying the same entry twice is stored once.
    """
    return f"{event_id or 'unknown'}{REPLAY_ID_MARK}{dead_letter_sequence}"


def is_replay_msg_id(msg_id: str) -> bool:
    """True for a Nats-Msg-Id made by replay_msg_id (it names a replay, not an event)."""
    return REPLAY_ID_MARK in msg_id


@dataclass(frozen=True)
class BusSettings:
    """Stream and consumer knobs, from the environment."""

    url: str
    duplicate_window_seconds: float
    max_age_seconds: float
    replicas: int
    max_deliver: int
    ack_wait_seconds: float

    @classmethod
    def from_env(cls) -> "BusSettings":
        return cls(
            url=nats_url(),
            # Hours: a sender retrying a sale within this window gets `duplicate: true` from JetStream.
            # The window costs server memory (one entry per message id); processing is idempotent anyway.
            duplicate_window_seconds=env_float("BUS_DUPLICATE_WINDOW_SECONDS", 6 * 3600, minimum=1),
            max_age_seconds=env_float("BUS_MAX_AGE_SECONDS", 7 * 24 * 3600, minimum=60),
            replicas=env_int("BUS_REPLICAS", 1, minimum=1, maximum=5),
            max_deliver=env_int("BUS_MAX_DELIVER", 20, minimum=2),
            ack_wait_seconds=env_float("BUS_ACK_WAIT_SECONDS", 30, minimum=1),
        )


def stream_config(settings: BusSettings) -> StreamConfig:
    """The WEBHOOKS stream: file storage, work kept until its age limit, long duplicate window."""
    return StreamConfig(
        name=STREAM,
        subjects=[f"{SUBJECT_PREFIX}.>"],
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=settings.max_age_seconds,
        duplicate_window=settings.duplicate_window_seconds,
        num_replicas=settings.replicas,
    )


def dead_letter_stream_config(settings: BusSettings) -> StreamConfig:
    """The dead-letter stream: messages that cannot succeed, kept for an operator to list and replay."""
    return StreamConfig(
        name=DEAD_LETTER_STREAM,
        subjects=[f"{DEAD_LETTER_PREFIX}.>"],
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=30 * 24 * 3600,
        duplicate_window=120,
        num_replicas=settings.replicas,
    )


def consumer_config(settings: BusSettings) -> ConsumerConfig:
    """The processors' shared durable pull consumer: explicit acks, bounded redelivery.

    Redelivery delays for transient failures are chosen by the processor (nak with a delay); ack_wait
    bounds how long a message stays with a processor that died without answering.
    """
    return ConsumerConfig(
        durable_name=CONSUMER,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=settings.max_deliver,
        max_ack_pending=10_000,
        filter_subject=f"{SUBJECT_PREFIX}.>",
    )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
        log.info("created stream %s", config.name)
    except BadRequestError as exc:
        if exc.err_code != 10058:  # "stream name already in use with a different configuration"
            raise
        await js.update_stream(config)
        log.info("updated stream %s to the configured settings", config.name)


async def ensure_streams(js: JetStreamContext, settings: BusSettings) -> None:
    """Create or update the event and dead-letter streams. Idempotent."""
    await _ensure_stream(js, stream_config(settings))
    await _ensure_stream(js, dead_letter_stream_config(settings))


async def ensure_consumer(js: JetStreamContext, settings: BusSettings) -> None:
    """Create the durable consumer if it does not exist; an identical one is accepted by the server."""
    try:
        await js.add_consumer(STREAM, consumer_config(settings))
    except BadRequestError as exc:
        # An existing consumer with other settings (e.g. an operator tuned it): keep it, say so.
        log.warning("consumer %s exists with other settings, left unchanged: %s", CONSUMER, exc.description)


async def stream_exists(js: JetStreamContext, name: str = STREAM) -> bool:
    """True when the stream exists."""
    try:
        await js.stream_info(name)
        return True
    except NotFoundError:
        return False


async def connect(settings: BusSettings, name: str, **options) -> Client:
    """A NATS connection that keeps reconnecting forever; options override the defaults."""
    defaults = dict(
        servers=settings.url.split(","),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
    )
    return await nats.connect(**{**defaults, **options})
