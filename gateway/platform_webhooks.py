"""POST /v1/webhooks/shopify/<tenant_id> and /v1/webhooks/woocommerce/<tenant_id>: a store platform's own
webhook, translated onto the guide's events (gateway/platforms/) and from there treated like one.

size (413) ▸ WooCommerce's ping when a webhook is created (200) ▸ the platform's signature (401) ▸ rate
limit (429) ▸ content type (415) ▸ JSON (400) ▸ the topic header (400) ▸ translation (422 naming fields
of the platform's body) ▸ payload rules (422, the same rules as the guide's, fields named in the
platform's body) ▸ durable publish (503) ▸ 202 {"event_id", "status": "accepted", "duplicate"}.

What carries nothing for us (an order without coded products, an unpaid order, a topic we do not read)
and a later version of an order already accepted with other content (WooCommerce sends one on every
edit) are answered 200 {"status": "ignored", "reason"}: a platform disables a webhook that keeps
failing, and a retry would change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from common import timestamps
from gateway import authentication, metrics, payload, problems, senders, webhooks
from gateway.platforms import Ignored, PlatformSettings, Translated, shopify, woocommerce
from gateway.problems import Problem

log = logging.getLogger(__name__)
bp = Blueprint("platform_webhooks", __name__)
bp.after_request(webhooks.count_request)


@dataclass(frozen=True)
class Platform:
    """How one platform signs, names its topic and its deliveries, and how its bodies are translated."""

    name: str
    signature_header: str
    topic_header: str
    delivery_header: str
    translate: Callable[[str, Any, PlatformSettings], Translated | Ignored]


SHOPIFY = Platform(senders.SHOPIFY, "X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Webhook-Id",
                   shopify.translate)
WOOCOMMERCE = Platform(senders.WOOCOMMERCE, "X-WC-Webhook-Signature", "X-WC-Webhook-Topic",
                       "X-WC-Webhook-Delivery-ID", woocommerce.translate)


def ignored(platform: Platform, reason: str):
    """The 200 for a delivery with nothing to publish, logged and counted (never its body)."""
    metrics.PLATFORM_IGNORED.labels(platform.name).inc()
    log.info("%s delivery ignored: %s", platform.name, reason,
             extra={"tenant_id": g.get("tenant_id"), "event_id": g.get("event_id")})
    return jsonify(status="ignored", reason=reason), 200


def receive(platform: Platform, tenant_id: str, raw: bytes | None = None):
    """One delivery of `platform` for the tenant, through the checks in the module docstring's order
    (`raw`: the body when it was read already)."""
    if raw is None:
        raw = webhooks.read_capped_body(request, current_app.config["MAX_BODY_BYTES"])
    metrics.BODY_BYTES.observe(len(raw))
    sender = authentication.authenticate_platform(
        tenant_id, platform.name, raw, request.headers.get(platform.signature_header), platform.signature_header,
        request.headers.get(platform.delivery_header))
    g.tenant_id = tenant_id
    webhooks.limit_rate(tenant_id)
    webhooks.check_content_type(request)
    document = webhooks.decode(raw)
    topic = (request.headers.get(platform.topic_header) or "").strip()
    if not topic:
        raise Problem(problems.BAD_REQUEST, f"The {platform.topic_header} header is required: it says what the "
                      "body is.")
    try:
        translated = platform.translate(topic, document, sender.settings.platform(platform.name))
    except payload.PayloadInvalid as exc:
        raise webhooks.invalid_payload(exc) from None
    if isinstance(translated, Ignored):
        return ignored(platform, translated.reason)
    received_at = timestamps.now()
    rules = webhooks.rules_of(tenant_id)
    content = webhooks.validate(translated.document, received_at, rules, field_name=translated.platform_path)
    try:
        return webhooks.accept(tenant_id, content, raw, received_at, rules, sender)
    except Problem as exc:
        if exc.kind is not problems.TRANSACTION_CONFLICT:
            raise
        return ignored(platform, f"{exc.detail} The version accepted first stands.")


@bp.post("/v1/webhooks/shopify/<tenant_id>")
def from_shopify(tenant_id: str):
    """A Shopify webhook (orders/create, refunds/create, orders/cancelled)."""
    return receive(SHOPIFY, tenant_id)


@bp.post("/v1/webhooks/woocommerce/<tenant_id>")
def from_woocommerce(tenant_id: str):
    """A WooCommerce webhook (order.created, order.updated), or the ping it sends when the webhook is
    created: answered 200 without a signature (WooCommerce sends none and refuses to save a webhook whose
    ping fails), whatever the tenant, so it tells nothing about tenants and publishes nothing."""
    if request.mimetype == "application/json":
        return receive(WOOCOMMERCE, tenant_id)
    raw = webhooks.read_capped_body(request, current_app.config["MAX_BODY_BYTES"])
    if woocommerce.is_ping(raw, request.content_type or ""):
        return jsonify(status="ok"), 200
    return receive(WOOCOMMERCE, tenant_id, raw)
