"""Who sent a request: the signature checks of every sender (docs/design.md "Signature schemes").

On a tenant's own endpoint a request is signed either with the guide's `X-Autentikapp-Signature` or with
Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`); any Standard Webhooks header
makes it a Standard Webhooks request, checked by that scheme alone. A tenant that requires timestamped
signatures refuses the guide's header, saying so only once that signature proved the sender holds the
secret. A platform's endpoint checks the platform's base64 HMAC of the body under the platform's secret.

Every refusal is a 401. Its detail never tells an unknown tenant from a wrong signature (tenants cannot be
enumerated), and an unknown tenant costs the same HMAC work as a known one; a Standard Webhooks request
whose own headers are unusable (missing, malformed, timestamp outside the tolerance) is told so before any
tenant is looked at, which reveals nothing about tenants.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app
from werkzeug.datastructures import Headers

from common import ids
from gateway import metrics, problems, senders, signature, standard_webhooks
from gateway.dependencies import dependencies, from_tenants_store
from gateway.problems import Problem
from gateway.senders import TenantSenders

log = logging.getLogger(__name__)

# One answer for an unknown tenant, a missing header and a wrong signature: tenants cannot be enumerated.
SIGNATURE_DETAIL = (
    "The request is not signed with this endpoint's secret: send X-Autentikapp-Signature (hex HMAC-SHA256 of "
    "the body) or the Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature."
)
STANDARD_SIGNATURE_DETAIL = (
    "webhook-signature holds no v1 signature of webhook-id.webhook-timestamp.body under this endpoint's secret."
)
TIMESTAMPED_REQUIRED_DETAIL = (
    "This endpoint requires timestamped signatures: sign with Standard Webhooks (webhook-id, webhook-timestamp, "
    "webhook-signature); X-Autentikapp-Signature alone is refused."
)
SOURCE_WEBHOOK = "autentikapp"
SOURCE_STANDARD = "standard-webhooks"


@dataclass(frozen=True)
class Sender:
    """A request whose signature held: the tenant's senders (for what comes next), how it was signed
    (`source`), and the sender's own id of this delivery when it gave one (for tracing, never trusted)."""

    settings: TenantSenders
    source: str
    delivery_id: str = ""


def senders_of(tenant_id: str) -> TenantSenders:
    """The tenant's senders from the per-worker cache (empty for an id that cannot be a tenant); 503 +
    Retry-After while the tenants store is down."""
    if not ids.is_tenant_id(tenant_id):
        return TenantSenders()
    return from_tenants_store(dependencies().senders, tenant_id)


def _refuse(reason: str, detail: str = SIGNATURE_DETAIL) -> Problem:
    """The 401, counted by reason for operators (and the reason kept for the tenant's own record of its
    refused requests, gateway/refusals.py; never sent)."""
    metrics.SIGNATURE_FAILURES.labels(reason).inc()
    return Problem(problems.INVALID_SIGNATURE, detail, cause=reason)


def authenticate_webhook(tenant_id: str, raw: bytes, headers: Headers) -> Sender:
    """Check a request to the tenant's own endpoint under either scheme; raise the 401 (or 503) otherwise."""
    if standard_webhooks.is_used(headers):
        return _standard(tenant_id, raw, headers)
    settings = senders_of(tenant_id)
    secrets = settings.secrets_of(senders.WEBHOOK)
    given = headers.get(signature.HEADER)
    if not signature.verify(secrets, raw, given):
        raise _refuse(signature.failure_reason(secrets, given))
    if settings.require_timestamped:
        raise _refuse("timestamp_required", TIMESTAMPED_REQUIRED_DETAIL)
    return Sender(settings, SOURCE_WEBHOOK)


def _standard(tenant_id: str, raw: bytes, headers: Headers) -> Sender:
    """Standard Webhooks: the headers' own form and the clock first, then the signature."""
    msg_id = headers.get(standard_webhooks.ID_HEADER)
    timestamp = headers.get(standard_webhooks.TIMESTAMP_HEADER)
    given = headers.get(standard_webhooks.SIGNATURE_HEADER)
    refusal = standard_webhooks.check_headers(msg_id, timestamp, given, time.time(),
                                              current_app.config["SIGNATURE_TOLERANCE_SECONDS"])
    if refusal is not None:
        raise _refuse(refusal.reason, refusal.detail)
    settings = senders_of(tenant_id)
    secrets = settings.secrets_of(senders.WEBHOOK)
    if not standard_webhooks.verify(secrets, raw, msg_id, timestamp, given):
        raise _refuse("unknown_tenant" if not secrets else "mismatch", STANDARD_SIGNATURE_DETAIL)
    return Sender(settings, SOURCE_STANDARD, msg_id.strip())


def authenticate_platform(tenant_id: str, platform: str, raw: bytes, given: str | None, header: str,
                          delivery_id: str | None) -> Sender:
    """Check a platform's request: `given` (the value of `header`) must be the base64 HMAC-SHA256 of the
    raw body under one of the tenant's secrets for that platform."""
    settings = senders_of(tenant_id)
    secrets = settings.secrets_of(platform)
    if not signature.verify_base64(secrets, raw, given):
        raise _refuse(signature.failure_reason_base64(secrets, given),
                      f"The {header} header is missing or is not the base64 HMAC-SHA256 of the body under this "
                      f"endpoint's {platform} secret.")
    return Sender(settings, platform, _delivery_id(delivery_id))


def _delivery_id(value: str | None) -> str:
    """A sender's delivery id as carried on the work message: kept only when it is 1 to 256 visible ASCII
    characters (it goes into headers and logs), else left out."""
    value = (value or "").strip()
    return value if standard_webhooks.is_visible_id(value) else ""
