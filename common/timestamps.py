"""Conversions between protobuf Timestamps and aware datetimes (always UTC)."""

from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.timestamp_pb2 import Timestamp


def to_datetime(ts: Timestamp, default: datetime | None = None) -> datetime | None:
    """An aware UTC datetime, or `default` when the Timestamp is unset (all zero)."""
    if ts.seconds == 0 and ts.nanos == 0:
        return default
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
