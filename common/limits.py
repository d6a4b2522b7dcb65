"""Every cap and time bound on what a sale carries, in one place.

The gateway refuses a sale that breaks one (422, the field named) and the services apply the very same
values to what they receive, so a sale answered 202 is never refused later by a service (which would
dead-letter it for ever). A cap is measured on the normalised value (trimmed, inner whitespace
collapsed where the field is free text).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

# Identifiers that travel in subjects, headers, URLs and logs.
MAX_TENANT_ID = 64
MAX_CODE = 128
MAX_EVENT_ID = 200

# The buyer.
MAX_NATIONAL_ID = 32  # letters and digits, after separators are removed
MAX_EMAIL = 254
MAX_PHONE_INPUT = 32  # as sent, before normalising to E.164
MAX_NAME = 100

# The sale.
MAX_SHORT_TEXT = 64  # event_type, event_timestamp as sent
MAX_TRANSACTION_ID = 128
MAX_REFUND_ID = 128  # a refund's credit-note id (transaction.refunded)
MAX_SKU = 128
MAX_PRODUCT_NAME = 256
MAX_LINE_ITEMS = 500
MAX_QUANTITY = 1_000_000
MAX_AMOUNT_INTEGER_DIGITS = 18
MAX_AMOUNT_DECIMALS = 12

# When a sale may have happened. Before the floor a date is a point-of-sale default (1970-01-01, a
# zero timestamp, 1900-01-01), not the time of a sale, and it would date the buyer's data wrongly;
# past the ceiling a clock is wrong, and the data would freeze the customer against every real event.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_FUTURE = timedelta(hours=24)


def event_time_problem(value: datetime, now: datetime) -> str | None:
    """Why `value` cannot be the time of a sale, as the end of a sentence naming the field; None if it can."""
    if value < EARLIEST_EVENT_TIME:
        return (f"is before {EARLIEST_EVENT_TIME:%Y-%m-%d}: that is a point-of-sale default date, not the time "
                "of the sale; send the sale's real date and time")
    if value - now > MAX_FUTURE:
        return "is more than 24 hours in the future"
    return None
