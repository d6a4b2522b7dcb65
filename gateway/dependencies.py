"""What the views use, built once per app (per gunicorn worker): the tenants store and its caches
(senders: secrets and signature settings; buyer rules), the publisher, the per-tenant rate limiter and the
record of refused requests. Injected fakes in unit tests, real ones in production."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from flask import current_app

from common.errors import Unavailable
from gateway import problems
from gateway.buyer_rules import BuyerRules
from gateway.problems import Problem
from gateway.publisher import Published
from gateway.rate_limit import RateLimiter
from gateway.refusals import RefusalRecorder
from gateway.senders import TenantSenders
from gateway.tenant_cache import TenantCache

EXTENSION = "autentikapp_gateway"
Value = TypeVar("Value")
log = logging.getLogger(__name__)


class TenantStoreLike(Protocol):
    """The part of gateway.tenants.TenantStore the app uses."""

    def senders(self, tenant_id: str) -> TenantSenders: ...

    def buyer_rules(self, tenant_id: str) -> BuyerRules: ...

    def ping(self, timeout: float = 2.0) -> bool: ...


class PublisherLike(Protocol):
    """The part of gateway.publisher.Publisher the app uses."""

    def publish(self, subject: str, data: bytes, headers: dict[str, str], timeout: float) -> Published: ...

    def stored_headers(self, sequence: int, timeout: float) -> dict[str, str] | None: ...

    def is_connected(self) -> bool: ...


@dataclass
class AppDependencies:
    """The app's dependencies."""

    tenant_store: TenantStoreLike
    senders: TenantCache[TenantSenders]
    buyer_rules: TenantCache[BuyerRules]
    publisher: PublisherLike
    rate_limiter: RateLimiter | None = None  # None: no limit (GATEWAY_RATE_LIMIT_PER_SECOND=0)
    refusals: RefusalRecorder | None = None  # None: refused requests are not recorded (a store without a pool)

    def close(self) -> None:
        """Stop recording refused requests (what is queued is written first, on the store's pool), then close
        the publisher and the store (those that can be closed)."""
        for resource in (self.refusals, self.publisher, self.tenant_store):
            close: Any = getattr(resource, "close", None)
            if callable(close):
                close()


def dependencies() -> AppDependencies:
    """The current app's dependencies."""
    return current_app.extensions[EXTENSION]


def retry_after() -> dict[str, str]:
    """The Retry-After header of a 503 (GATEWAY_RETRY_AFTER_SECONDS)."""
    return {"Retry-After": str(current_app.config["RETRY_AFTER_SECONDS"])}


def from_tenants_store(cache: TenantCache[Value], tenant_id: str) -> Value:
    """What `cache` holds about the tenant (its senders, its buyer rules); 503 + Retry-After while the
    tenants store is down."""
    try:
        return cache.get(tenant_id)
    except Unavailable as exc:
        log.warning("tenants store unavailable: %s", exc)
        raise Problem(problems.UNAVAILABLE, "The tenants store is unavailable; retry later.",
                      headers=retry_after()) from None
