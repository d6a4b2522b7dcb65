"""What to do when handling a message fails: retry later, or give up and dead-letter it.

Three kinds of failure (docs/design.md "Failure classes"):
- transient: a dependency is down or slow (gRPC UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
  ABORTED, CANCELLED; the outcomes database; NATS). Retried with growing delays until max_deliver.
- permanent: the message can never succeed (not a WebhookEvent, ids missing, a service answered
  INVALID_ARGUMENT or FAILED_PRECONDITION). Dead-lettered at once.
- unexpected: anything else (a bug, INTERNAL, UNKNOWN...). Retried a few times, in case it was a
  passing state, then dead-lettered so it never blocks the stream.

Reasons are one line and never carry personal data: they end up in logs, headers and the outcomes table.
"""

from __future__ import annotations

import asyncio
import enum
import re

import grpc
import nats.errors
import psycopg

from common.errors import Unavailable


class Kind(enum.Enum):
    """How a failure is handled."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNEXPECTED = "unexpected"


class PermanentFailure(Exception):
    """The message can never be processed as it is; the message text is safe to log (no personal data)."""


class UnexpectedAnswer(Exception):
    """A service answered something this processor does not understand (e.g. an unknown enum value)."""


class RpcFailure(Exception):
    """A gRPC call failed: which method, the status code, and the server's details."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str = "") -> None:
        super().__init__(method, code, details)  # all arguments in args: copy.copy can rebuild it
        self.method = method
        self.code = code
        self.details = details

    def __str__(self) -> str:
        return f"{self.method}: {self.code.name}"


# CANCELLED is transient here: the processor never cancels its own calls (a stopping processor gets
# CancelledError, not a status), so a CANCELLED answer means the service shut down with the call still
# queued — grpc.aio cancels calls no handler has taken yet, grace period or not (grpc/grpc#41785).
TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)
PERMANENT_CODES = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION})

# Most severe first: when several calls of one event fail, the worst decides.
SEVERITY = (Kind.PERMANENT, Kind.UNEXPECTED, Kind.TRANSIENT)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_DETAIL = 160


def classify(exc: BaseException) -> Kind:
    """The kind of a failure raised while handling one message."""
    if isinstance(exc, PermanentFailure):
        return Kind.PERMANENT
    if isinstance(exc, RpcFailure):
        if exc.code in TRANSIENT_CODES:
            return Kind.TRANSIENT
        if exc.code in PERMANENT_CODES:
            return Kind.PERMANENT
        return Kind.UNEXPECTED
    if isinstance(exc, (Unavailable, psycopg.OperationalError, nats.errors.Error, asyncio.TimeoutError, ConnectionError)):
        return Kind.TRANSIENT
    return Kind.UNEXPECTED


def worst(failures: list[BaseException]) -> BaseException:
    """The failure that decides what happens to the event: permanent beats unexpected beats transient."""
    return min(failures, key=lambda exc: SEVERITY.index(classify(exc)))


def retry_delay(num_delivered: int, delays: tuple[float, ...]) -> float:
    """Seconds before the next delivery after the `num_delivered`-th failed; the last delay repeats."""
    if not delays:
        return 0.0
    return delays[min(max(num_delivered, 1), len(delays)) - 1]


def should_retry(kind: Kind, num_delivered: int, max_deliver: int | None, unexpected_max: int) -> bool:
    """True when the message should be redelivered later rather than dead-lettered now.

    `max_deliver` is the consumer's limit (None = unlimited): JetStream never delivers a message more
    often, so the last delivery must dead-letter it or it would be dropped silently.
    """
    if kind is Kind.PERMANENT:
        return False
    limit = max_deliver if max_deliver is not None else float("inf")
    if kind is Kind.UNEXPECTED:
        limit = min(limit, unexpected_max)
    return num_delivered < limit


def safe_details(details: str) -> str:
    """A server's error details cut to what cannot hold personal data.

    Our services name the field first and put any echoed value after a colon ("email is not a valid
    e-mail address: <validator's text>"), so only the text before the first colon is kept.
    """
    head = details.split(":", 1)[0]
    head = " ".join(_CONTROL.sub(" ", head).split())
    return head[:MAX_DETAIL]


def reason(exc: BaseException, num_delivered: int | None = None) -> str:
    """One line saying why a message was given up on; adds the delivery count when retries ran out."""
    if isinstance(exc, (PermanentFailure, UnexpectedAnswer)):
        text = str(exc)
    elif isinstance(exc, RpcFailure):
        detail = safe_details(exc.details)
        text = f"{exc.method} failed: {exc.code.name}" + (f" ({detail})" if detail else "")
    elif isinstance(exc, Unavailable):
        text = f"outcomes store: {safe_details(str(exc))}"
    elif isinstance(exc, psycopg.OperationalError):
        text = f"outcomes store: {type(exc).__name__}"
    elif isinstance(exc, (nats.errors.Error, asyncio.TimeoutError)):
        text = f"NATS: {type(exc).__name__}"
    else:
        text = f"unexpected {type(exc).__name__}"
    if num_delivered is not None and classify(exc) is not Kind.PERMANENT:
        text += f"; gave up after {num_delivered} deliveries"
    return " ".join(_CONTROL.sub(" ", text).split())
