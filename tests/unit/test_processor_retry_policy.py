"""Which failures are retried and which dead-lettered, the redelivery delays, and reasons without
personal data."""

from __future__ import annotations

import asyncio

import grpc
import nats.errors
import psycopg
import pytest

from common.errors import Unavailable
from processor.failures import (
    Kind,
    PermanentFailure,
    RpcFailure,
    UnexpectedAnswer,
    classify,
    reason,
    retry_delay,
    safe_details,
    should_retry,
    worst,
)

DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


@pytest.mark.parametrize("exc,kind", [
    (RpcFailure("UpsertCustomer", grpc.StatusCode.UNAVAILABLE), Kind.TRANSIENT),
    (RpcFailure("UpsertCustomer", grpc.StatusCode.DEADLINE_EXCEEDED), Kind.TRANSIENT),
    (RpcFailure("AssignIdentifier", grpc.StatusCode.RESOURCE_EXHAUSTED), Kind.TRANSIENT),
    (RpcFailure("AssignIdentifier", grpc.StatusCode.ABORTED), Kind.TRANSIENT),
    (RpcFailure("UpsertCustomer", grpc.StatusCode.CANCELLED), Kind.TRANSIENT),  # service shut down mid-call
    (Unavailable("the database is unavailable: 08006"), Kind.TRANSIENT),
    (psycopg.OperationalError("connection lost"), Kind.TRANSIENT),
    (nats.errors.TimeoutError(), Kind.TRANSIENT),
    (nats.errors.ConnectionClosedError(), Kind.TRANSIENT),
    (asyncio.TimeoutError(), Kind.TRANSIENT),
    (RpcFailure("UpsertCustomer", grpc.StatusCode.INVALID_ARGUMENT), Kind.PERMANENT),
    (RpcFailure("AssignIdentifier", grpc.StatusCode.FAILED_PRECONDITION), Kind.PERMANENT),
    (PermanentFailure("not a WebhookEvent protobuf"), Kind.PERMANENT),
    (RpcFailure("UpsertCustomer", grpc.StatusCode.INTERNAL), Kind.UNEXPECTED),
    (RpcFailure("UpsertCustomer", grpc.StatusCode.UNKNOWN), Kind.UNEXPECTED),
    (RpcFailure("UpsertCustomer", grpc.StatusCode.UNIMPLEMENTED), Kind.UNEXPECTED),
    (UnexpectedAnswer("unknown outcome 9"), Kind.UNEXPECTED),
    (KeyError("x"), Kind.UNEXPECTED),
], ids=lambda v: getattr(v, "name", None) or type(v).__name__)
def test_classification(exc, kind):
    assert classify(exc) is kind


def test_retry_delays_grow_with_deliveries_and_the_last_repeats():
    assert [retry_delay(n, DELAYS) for n in range(1, 10)] == [1, 2, 5, 10, 30, 60, 60, 60, 60]
    assert retry_delay(0, DELAYS) == 1, "a bogus count still gets the first delay"
    assert retry_delay(3, ()) == 0


def test_transient_failures_retry_until_the_last_delivery_and_unexpected_ones_a_few_times():
    assert [should_retry(Kind.TRANSIENT, n, 5, 3) for n in range(1, 6)] == [True, True, True, True, False]
    assert [should_retry(Kind.UNEXPECTED, n, 5, 3) for n in range(1, 6)] == [True, True, False, False, False]
    assert should_retry(Kind.UNEXPECTED, 2, 2, 3) is False, "never past the consumer's max_deliver"
    assert should_retry(Kind.PERMANENT, 1, 5, 3) is False
    assert should_retry(Kind.TRANSIENT, 10_000, None, 3) is True, "unlimited max_deliver"


def test_the_worst_failure_decides():
    transient = RpcFailure("AssignIdentifier", grpc.StatusCode.UNAVAILABLE)
    invalid = RpcFailure("AssignIdentifier", grpc.StatusCode.INVALID_ARGUMENT)
    bug = KeyError("x")
    assert worst([transient, bug]) is bug
    assert worst([transient, bug, invalid]) is invalid
    assert worst([transient]) is transient


def test_reasons_are_one_line_and_drop_echoed_values():
    details = "email is not a valid e-mail address: The domain name ana-perez.example does not exist."
    rejected = RpcFailure("UpsertCustomer", grpc.StatusCode.INVALID_ARGUMENT, details)
    assert reason(rejected, 1) == "UpsertCustomer failed: INVALID_ARGUMENT (email is not a valid e-mail address)"
    down = RpcFailure("AssignIdentifier", grpc.StatusCode.UNAVAILABLE, "failed to connect\nto all addresses: x")
    assert reason(down, 20) == "AssignIdentifier failed: UNAVAILABLE (failed to connect to all addresses); " \
                               "gave up after 20 deliveries"
    assert reason(PermanentFailure("event_id is missing"), 1) == "event_id is missing"
    assert reason(ValueError("secret value ana@b.co"), 3) == "unexpected ValueError; gave up after 3 deliveries"
    assert reason(Unavailable("the database is unavailable: 08006")) == "outcomes store: the database is unavailable"
    assert safe_details("x" * 500) == "x" * 160
