"""What the gateway's workers count. Imported by the app only, in the workers (after the fork), where
prometheus_client writes each worker's values to files under PROMETHEUS_MULTIPROC_DIR; the gunicorn
master sums them at /metrics (common/metrics_master.py). docs/operations.md "Metrics" explains each.

Kept cheap on the hot path: per webhook one counter increment and one body-size observation, plus a
publish-latency observation for a request that reaches the publish (and, for a refused one, a
refusals counter when it is left out of its tenant's record; the drain thread counts what it writes).
Labels stay bounded: `tenant` is a tenant id only once the signature proved it ("unknown" before: a
413, a 401), `status` is the HTTP status, `reason` one of signature.FAILURE_REASONS or of the
refusals' drop reasons.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from common.metrics import LATENCY_BUCKETS

UNKNOWN_TENANT = "unknown"

WEBHOOK_REQUESTS = Counter("autentikapp_gateway_webhook_requests",
                           "Webhook requests answered, by tenant (\"unknown\" until its signature is verified) "
                           "and HTTP status", ["tenant", "status"])
SIGNATURE_FAILURES = Counter("autentikapp_gateway_signature_failures",
                             "Webhooks refused with 401, by reason (missing, malformed, unknown_tenant, mismatch, "
                             "stale_timestamp, timestamp_required)", ["reason"])
PLATFORM_IGNORED = Counter("autentikapp_gateway_platform_ignored",
                           "Store platform deliveries answered 200 with nothing published (no coded product, an "
                           "unpaid order, a topic not read, a later version of an accepted order), by platform",
                           ["platform"])
BODY_BYTES = Histogram("autentikapp_gateway_webhook_body_bytes",
                       "Size of the webhook bodies read (a body refused by its Content-Length is not read)",
                       buckets=(256, 1024, 2048, 4096, 8192, 16384, 65536, 262144, 524288, 1048576))
REFUSALS_RECORDED = Counter("autentikapp_gateway_refusals_recorded",
                            "Refused requests written to the table refused_requests (gateway/refusals.py)")
REFUSALS_DROPPED = Counter("autentikapp_gateway_refusals_dropped",
                           "Refused requests left out of the tenant's record, by reason (queue_full, tenant_limit, "
                           "unverified_limit, database)", ["reason"])
PUBLISH_SECONDS = Histogram("autentikapp_gateway_publish_seconds",
                            "Seconds from handing an event to JetStream to its PubAck (or the give-up: 503)",
                            buckets=LATENCY_BUCKETS)
