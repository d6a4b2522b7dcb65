"""Conversions between protobuf Timestamps and aware datetimes (always UTC)."""

from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.timestamp_pb2 import Timestamp


def to_datetime(ts: Timestamp) -> datetime:
    """An aware UTC datetime. A zero Timestamp is 1970-01-01, not "unset": whether a field is set is
    the message's HasField, which the caller asks (a zero date is a POS default that must be refused)."""
    return ts.ToDatetime(tzinfo=timezone.utc)


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """A Timestamp, or None for None (so it can be passed straight to a message constructor)."""
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def now() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(timezone.utc)
