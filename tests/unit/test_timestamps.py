"""common.timestamps: the Timestamp of a datetime is what protobuf's own FromDatetime makes of it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from common import timestamps

BOGOTA = timezone(timedelta(hours=-5))


@pytest.mark.parametrize("value", [
    datetime(2026, 11, 30, 21, 45, 3, 123456, tzinfo=timezone.utc),
    datetime(2026, 11, 30, 16, 45, 3, 999999, tzinfo=BOGOTA),
    datetime(2026, 11, 30, 21, 45, 3),  # naive: read as UTC, as FromDatetime reads it
    datetime(1970, 1, 1, tzinfo=timezone.utc),
    datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc),
    datetime(1, 1, 1, tzinfo=timezone.utc),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
])
def test_to_timestamp_is_protobufs_from_datetime(value):
    expected = Timestamp()
    expected.FromDatetime(value)
    assert timestamps.to_timestamp(value) == expected
    assert timestamps.to_datetime(timestamps.to_timestamp(value)) == (
        value if value.tzinfo else value.replace(tzinfo=timezone.utc))


def test_none_stays_none():
    assert timestamps.to_timestamp(None) is None
