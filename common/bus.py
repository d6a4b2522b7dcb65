"""The bus contract: JetStream streams, subjects and consumer, their idempotent set-up, and the NATS
connection every process opens. The messages' formats: common/work_message.py, common/dead_letter_message.py.

Whichever process starts first (gateway or processor) creates the stream and the durable consumer;
the others find them. `ensure_*` is safe to call concurrently and on every start: an existing stream
is updated to the configured settings, an existing consumer is left as it is when it matches.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    Header,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, BadRequestError, NotFoundError

from common.config import ConfigError, env_float, env_int, env_secret, nats_url, redact_url

log = logging.getLogger(__name__)

STREAM = "WEBHOOKS"
SUBJECT_PREFIX = "webhooks.inbound"
DEAD_LETTER_STREAM = "WEBHOOKS_DEAD"
DEAD_LETTER_PREFIX = "webhooks.dead"
CONSUMER = "processor"
DOMAIN_STREAM = "DOMAIN_EVENTS"
DOMAIN_PREFIX = "domain"
# How long WEBHOOKS_DEAD keeps an entry (the raw body, with the buyer's data) unless replayed or purged.
DEFAULT_DEAD_LETTER_MAX_AGE_SECONDS = 30 * 24 * 3600
DEFAULT_DOMAIN_EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600
# The largest message a stream stores: NATS's own default max_payload. The servers' max_payload must be
# at least BUS_MAX_MESSAGE_BYTES (checked at connect: check_max_payload).
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
INBOX_USER = re.compile(r"[A-Za-z0-9_-]{1,64}")


def subject_for(tenant_id: str) -> str:
    """The subject of a tenant's events (tenant ids are validated to be subject-safe)."""
    return f"{SUBJECT_PREFIX}.{tenant_id}"


def dead_letter_subject_for(tenant_id: str) -> str:
    """The dead-letter subject of a tenant's events ("unknown" when the message could not be read)."""
    return f"{DEAD_LETTER_PREFIX}.{tenant_id or 'unknown'}"


@dataclass(frozen=True)
class BusSettings:
    """Stream and consumer knobs, from the environment."""

    url: str
    duplicate_window_seconds: float
    max_age_seconds: float
    replicas: int
    max_deliver: int
    ack_wait_seconds: float
    dead_letter_max_age_seconds: float = DEFAULT_DEAD_LETTER_MAX_AGE_SECONDS
    domain_events_max_age_seconds: float = DEFAULT_DOMAIN_EVENTS_MAX_AGE_SECONDS
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # The NATS user this process connects as (NATS_USER, NATS_PASSWORD): each role may publish and
    # subscribe only where it needs to (docs/design.md "The internal plane"). "" connects without one.
    user: str = ""
    password: str = field(default="", repr=False)

    @property
    def url_for_logs(self) -> str:
        """NATS_URL with any password replaced, server by server (it may list several)."""
        return ",".join(redact_url(server.strip()) for server in self.url.split(","))

    @classmethod
    def from_env(cls) -> "BusSettings":
        """Read and check the bus variables (NATS_URL, BUS_*)."""
        return cls(
            url=nats_url(),
            # Hours: a sender retrying a sale within this window gets `duplicate: true` from JetStream.
            # The window costs server memory (one entry per message id); processing is idempotent anyway.
            duplicate_window_seconds=env_float("BUS_DUPLICATE_WINDOW_SECONDS", 6 * 3600, minimum=1),
            max_age_seconds=env_float("BUS_MAX_AGE_SECONDS", 7 * 24 * 3600, minimum=60),
            replicas=env_int("BUS_REPLICAS", 1, minimum=1, maximum=5),
            max_deliver=env_int("BUS_MAX_DELIVER", 20, minimum=2),
            ack_wait_seconds=env_float("BUS_ACK_WAIT_SECONDS", 30, minimum=1),
            # Retention of the dead letters, which hold raw bodies (docs/design.md "Erasure").
            dead_letter_max_age_seconds=env_float("BUS_DEAD_LETTER_MAX_AGE_SECONDS",
                                                  DEFAULT_DEAD_LETTER_MAX_AGE_SECONDS, minimum=60),
            domain_events_max_age_seconds=env_float("BUS_DOMAIN_EVENTS_MAX_AGE_SECONDS",
                                                    DEFAULT_DOMAIN_EVENTS_MAX_AGE_SECONDS, minimum=60),
            # The gateway refuses a GATEWAY_MAX_BODY_BYTES whose events would not fit (gateway/settings.py).
            max_message_bytes=env_int("BUS_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES, minimum=64 * 1024,
                                      maximum=64 * 1024 * 1024),
            **nats_credentials(),
        )

    def check_max_payload(self, max_payload: int) -> None:
        """Log an error when a connected server takes smaller messages than the streams are set to: events
        between the two sizes would be refused at publish (503) however often they are sent."""
        if max_payload < self.max_message_bytes:
            log.error("the NATS server's max_payload is %d bytes, less than BUS_MAX_MESSAGE_BYTES=%d: set the "
                      "servers' max_payload to at least that, or lower BUS_MAX_MESSAGE_BYTES and "
                      "GATEWAY_MAX_BODY_BYTES", max_payload, self.max_message_bytes)


def _file_stream(name: str, prefix: str, max_age: float, duplicate_window: float,
                 settings: BusSettings) -> StreamConfig:
    """A stream of every subject under `prefix`: file storage, the oldest messages dropped past `max_age`
    (whether read or not), BUS_REPLICAS replicas."""
    return StreamConfig(name=name, subjects=[f"{prefix}.>"], storage=StorageType.FILE, discard=DiscardPolicy.OLD,
                        max_age=max_age, duplicate_window=duplicate_window, num_replicas=settings.replicas,
                        max_msg_size=settings.max_message_bytes)


def stream_config(settings: BusSettings) -> StreamConfig:
    """The WEBHOOKS stream: work kept until its age limit, long duplicate window."""
    return _file_stream(STREAM, SUBJECT_PREFIX, settings.max_age_seconds, settings.duplicate_window_seconds, settings)


def dead_letter_stream_config(settings: BusSettings) -> StreamConfig:
    """The dead-letter stream: messages that cannot succeed, kept for an operator to list and replay, for
    BUS_DEAD_LETTER_MAX_AGE_SECONDS (30 days by default)."""
    return _file_stream(DEAD_LETTER_STREAM, DEAD_LETTER_PREFIX, settings.dead_letter_max_age_seconds, 120, settings)


# Deliveries the consumer allows beyond BUS_MAX_DELIVER, kept in reserve: the processor's own last attempt
# is delivery BUS_MAX_DELIVER, and a message delivered again after it (that attempt crashed, or its
# dead-letter copy could not be published) is only dead-lettered, never processed (processor/handler.py).
# Two, so that a dead-letter publish that fails once still has a second chance: JetStream drops for good
# a message it has delivered max_deliver times.
RESERVE_DELIVERIES = 2


def consumer_config(settings: BusSettings) -> ConsumerConfig:
    """The processors' shared durable pull consumer: explicit acks, bounded redelivery.

    Redelivery delays for transient failures are chosen by the processor (nak with a delay); ack_wait
    bounds how long a message stays with a processor that died without answering. max_deliver is
    BUS_MAX_DELIVER plus RESERVE_DELIVERIES.
    """
    return ConsumerConfig(
        durable_name=CONSUMER,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=settings.max_deliver + RESERVE_DELIVERIES,
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


def domain_stream_config(settings: BusSettings) -> StreamConfig:
    """The domain events for other internal services (common/domain_event_message.py): kept for
    BUS_DOMAIN_EVENTS_MAX_AGE_SECONDS (7 days by default) whether read or not, each effect stored once
    within the same duplicate window as the work stream's."""
    return _file_stream(DOMAIN_STREAM, DOMAIN_PREFIX, settings.domain_events_max_age_seconds,
                        settings.duplicate_window_seconds, settings)


async def ensure_streams(js: JetStreamContext, settings: BusSettings) -> None:
    """Create or update the event, dead-letter and domain-event streams. Idempotent."""
    await _ensure_stream(js, stream_config(settings))
    await _ensure_stream(js, dead_letter_stream_config(settings))
    await _ensure_stream(js, domain_stream_config(settings))


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


def nats_credentials() -> dict[str, str]:
    """NATS_USER and its password, from NATS_PASSWORD or the file NATS_PASSWORD_FILE names (a mounted
    Secret): both or neither (ConfigError naming what is wrong)."""
    user, password = os.environ.get("NATS_USER", "").strip(), env_secret("NATS_PASSWORD")
    if bool(user) != bool(password):
        raise ConfigError("NATS_USER and NATS_PASSWORD go together: set both, or neither")
    if user and not INBOX_USER.fullmatch(user):
        raise ConfigError("NATS_USER: letters, digits, '_' and '-' only (it names the user's inbox subjects)")
    return {"user": user, "password": password}


def inbox_prefix(user: str) -> str:
    """Where a user's replies arrive: _INBOX_<user>, so that the server can let each user subscribe to its
    own replies only (never another process's: a dead letter read by an operator, a fetched sale)."""
    return f"_INBOX_{user}" if user else "_INBOX"


async def connect(settings: BusSettings, name: str, **options) -> Client:
    """A NATS connection that keeps reconnecting forever, as NATS_USER when one is set (replies under its
    own inbox prefix); options override the defaults. A server that takes smaller messages than the
    streams are set to is logged as an error (check_max_payload)."""
    defaults = dict(
        servers=settings.url.split(","),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
        inbox_prefix=inbox_prefix(settings.user),
    )
    if settings.user:
        defaults.update(user=settings.user, password=settings.password)
    nc = await nats.connect(**{**defaults, **options})
    settings.check_max_payload(nc.max_payload)
    return nc


# The status NATS answers a request with when nothing listens on its subject: for a publish, no stream.
NO_RESPONDERS = "503"


class PubAck(NamedTuple):
    """JetStream's acknowledgement of one publish: whether it was a `duplicate` (its Nats-Msg-Id stored
    within the duplicate window) and the stream `sequence` (for a duplicate, the earlier message's)."""

    duplicate: bool
    sequence: int


def read_pub_ack(msg: Msg) -> PubAck:
    """JetStream's answer to a publish sent with a reply subject of the publisher's own, read as nats-py's
    js.publish reads it: the PubAck; or nats.errors.NoRespondersError ("no responders": no stream
    listens on the subject), the matching nats.js.errors.APIError subclass for an error answer, a plain
    APIError for an answer that is not a PubAck."""
    if msg.headers and msg.headers.get(Header.STATUS) == NO_RESPONDERS:
        raise nats.errors.NoRespondersError
    try:
        answer = json.loads(msg.data)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise APIError(description="JetStream's answer to a publish is not a PubAck")
    if "error" in answer:
        try:
            APIError.from_error(answer["error"])  # raises the matching subclass
        except APIError:
            raise
        except Exception:  # noqa: BLE001 - a malformed error member (TypeError, KeyError)
            pass
        raise APIError(description="JetStream answered a publish with a malformed error")
    sequence = answer.get("seq")
    return PubAck(bool(answer.get("duplicate")), sequence if type(sequence) is int else 0)


def describe(exc: BaseException) -> str:
    """A short, secret-free description of a nats-py failure for logs and error messages."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ConnectionLog:
    """The connection callbacks of a process that stays connected (gateway, processor), logged one way:
    each distinct error once until the connection is back (not on every reconnect attempt), a lost
    connection with what it means for this process, no warning for the process's own close, and an
    optional hook after a reconnect (it must not block: callbacks run on the client's loop)."""

    def __init__(self, logger: logging.Logger, *, while_down: str,
                 after_reconnect: Callable[[], None] | None = None) -> None:
        """`while_down` completes "NATS disconnected; ...": what callers see until the connection is back."""
        self.closing = False  # set before closing the connection on purpose
        self._log = logger
        self._while_down = while_down
        self._after_reconnect = after_reconnect
        self._last_error = ""

    async def error_cb(self, exc: Exception) -> None:
        """Log a connection error once, not on every reconnect attempt."""
        text = describe(exc)
        if text != self._last_error:
            self._last_error = text
            self._log.warning("NATS: %s", text)

    async def disconnected_cb(self) -> None:
        """Warn about a lost connection (nats-py reconnects by itself)."""
        if not self.closing:
            self._log.warning("NATS disconnected; %s", self._while_down)

    async def reconnected_cb(self) -> None:
        """Say the connection is back, let the next error be logged again, run the hook."""
        self._last_error = ""
        self._log.info("NATS reconnected")
        if self._after_reconnect is not None:
            self._after_reconnect()

    def options(self) -> dict[str, Callable[..., Awaitable[None]]]:
        """The callbacks as nats.connect options."""
        return {"error_cb": self.error_cb, "disconnected_cb": self.disconnected_cb,
                "reconnected_cb": self.reconnected_cb}
