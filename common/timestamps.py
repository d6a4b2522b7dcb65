"""Conversions between protobuf Timestamps and aware datetimes (always UTC)."""

from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NAIVE_EPOCH = _EPOCH.replace(tzinfo=None)


def to_datetime(ts: Timestamp) -> datetime:
    """An aware UTC datetime. A zero Timestamp is 1970-01-01, not "unset": whether a field is set is
    the message's HasField, which the caller asks (a zero date is a POS default that must be refused)."""
    return ts.ToDatetime(tzinfo=timezone.utc)


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """A Timestamp, or None for None (so it can be passed straight to a message constructor)."""
    if value is None:
        return None
    # What Timestamp.FromDatetime computes (a naive value read as UTC), by datetime arithmetic in C: three
    # times cheaper, and every row a service answers carries two or three of them.
    since = value - (_NAIVE_EPOCH if value.tzinfo is None else _EPOCH)
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def now() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(timezone.utc)
