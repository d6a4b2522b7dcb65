"""What the processor exports at /metrics (METRICS_PORT), all in one place: docs/operations.md
"Metrics" explains each one and the alerts built on them.

Messages are counted by how they were settled, so the results add up to every delivery handled; the
consumer's backlog is polled from JetStream (every replica reports the same shared consumer, so
aggregate it with max, not sum).
"""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram

from common.metrics import RpcMetrics

# How a delivery ended: its outcome recorded and acked; nak'ed for a later retry; dead-lettered and
# termed; left for JetStream (it could not be dead-lettered on its last delivery); handed back on
# shutdown; or a bug in the handler (JetStream redelivers it after ack_wait).
PROCESSED, RETRY, DEAD_LETTERED, KEPT, HANDED_BACK, ERROR = (
    "processed", "retry", "dead_lettered", "kept", "handed_back", "error")

MESSAGES = Counter("autentikapp_processor_messages", "Deliveries handled, by how they were settled", ["result"])
REDELIVERIES = Counter("autentikapp_processor_redeliveries", "Deliveries of a message JetStream had delivered before")
DEAD_LETTERS = Counter("autentikapp_processor_dead_lettered",
                       "Messages copied to WEBHOOKS_DEAD, by kind of failure (permanent, transient: retries "
                       "ran out, unexpected)", ["kind"])
LINE_ITEMS = Counter("autentikapp_processor_line_items", "Line items of processed events, by outcome", ["outcome"])
# From the gateway's receipt to the recorded outcome: includes time on the bus and every retry.
EVENT_LATENCY = Histogram("autentikapp_processor_event_latency_seconds",
                          "Seconds from the gateway's receipt of an event (received_at) to its recorded outcome",
                          buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
                                   900.0, 3600.0))
CONSUMER_LAG = Gauge("autentikapp_processor_consumer_lag_messages",
                     "Messages the durable consumer has not settled yet: num_pending + num_ack_pending")
CONSUMER_ACK_PENDING = Gauge("autentikapp_processor_consumer_ack_pending_messages",
                             "Messages delivered to some replica and not yet acked (num_ack_pending)")
CONSUMER_POLLED = Gauge("autentikapp_processor_consumer_info_timestamp_seconds",
                        "When the consumer's state was last read from JetStream (Unix time)")
# The dead-letter stream, read with the consumer: entries are dropped at BUS_DEAD_LETTER_MAX_AGE_SECONDS
# whether replayed or not, so the oldest one's age against that limit is what an operator must watch.
DEAD_LETTERS_HELD = Gauge("autentikapp_processor_dead_letters", "Entries in WEBHOOKS_DEAD (replayed or not)")
DEAD_LETTER_OLDEST_AGE = Gauge("autentikapp_processor_dead_letter_oldest_age_seconds",
                               "Age of the oldest entry in WEBHOOKS_DEAD (0 when empty)")
DEAD_LETTER_MAX_AGE = Gauge("autentikapp_processor_dead_letter_max_age_seconds",
                            "WEBHOOKS_DEAD's retention: an entry older than this is dropped")
CLIENT = RpcMetrics("client")
# What the fetch loop holds (processor/runner.py consume): the messages fetched and not settled yet, and
# their bytes, which PROCESSOR_MAX_IN_FLIGHT_BYTES bounds (docs/design.md "Memory").
IN_FLIGHT_MESSAGES = Gauge("autentikapp_processor_in_flight_messages", "Messages fetched and not settled yet")
IN_FLIGHT_BYTES = Gauge("autentikapp_processor_in_flight_bytes",
                        "Bytes (payload + headers) of the messages fetched and not settled yet")
IN_FLIGHT_BYTES_PEAK = Gauge("autentikapp_processor_in_flight_bytes_peak",
                             "The most bytes in flight at any moment since the process started")


class InFlight:
    """The messages in flight and their bytes, kept in the three gauges above (one per process, shared
    by every fetch loop in it; the lock is for tests that run several loops in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes = 0
        self.peak = 0

    def add(self, size: int) -> None:
        """A message of `size` bytes was fetched."""
        with self._lock:
            self.bytes += size
            IN_FLIGHT_BYTES.set(self.bytes)
            IN_FLIGHT_MESSAGES.inc()
            if self.bytes > self.peak:
                self.peak = self.bytes
                IN_FLIGHT_BYTES_PEAK.set(self.peak)

    def remove(self, size: int) -> None:
        """A message of `size` bytes was settled (or handed back)."""
        with self._lock:
            self.bytes -= size
            IN_FLIGHT_BYTES.set(self.bytes)
            IN_FLIGHT_MESSAGES.dec()


IN_FLIGHT = InFlight()
