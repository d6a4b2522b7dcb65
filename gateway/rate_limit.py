"""Per-tenant rate limiting: a token bucket per tenant, in memory, in each gunicorn worker process.

Each tenant may send `burst` requests at once and `rate` per second sustained. The limit is per
worker process (GATEWAY_RATE_LIMIT_PER_SECOND / GATEWAY_RATE_LIMIT_BURST): a gateway instance with W
workers lets one tenant through at up to W × rate when its connections spread over the workers (a
single keep-alive connection stays on one worker, so it gets `rate`). Nothing is shared between
processes or instances, and a restart starts every tenant with a full bucket.

Memory is bounded: at most `max_tenants` buckets, the least recently used evicted first. A bucket
left alone for burst / rate seconds is full, exactly like a new one, so evicting idle buckets loses
nothing. Buckets are only made after the signature check, for real tenants.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_MAX_TENANTS = 10_000


class TokenBucket:
    """Tokens refill at `rate` per second up to `burst`; one request takes one token. Not thread-safe
    on its own: RateLimiter serialises access."""

    __slots__ = ("rate", "burst", "tokens", "updated")

    def __init__(self, rate: float, burst: int, now: float):
        """A full bucket at time `now`."""
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> float:
        """Take a token if there is one: 0.0; else the seconds until one is available (nothing taken)."""
        if now > self.updated:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """Thread-safe map of tenant id -> TokenBucket with LRU eviction (gthread workers share it)."""

    def __init__(self, rate: float, burst: int, *, max_tenants: int = DEFAULT_MAX_TENANTS,
                 clock: Callable[[], float] = time.monotonic):
        """`rate` tokens per second (> 0), `burst` tokens at most (>= 1); `clock` is injectable for tests."""
        if rate <= 0 or burst < 1 or max_tenants < 1:
            raise ValueError("rate must be > 0, burst >= 1 and max_tenants >= 1")
        self.rate = rate
        self.burst = burst
        self._max_tenants = max_tenants
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, tenant_id: str) -> float:
        """Spend one of the tenant's tokens: 0.0 when allowed, else the seconds to wait before retrying."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(tenant_id)
            if bucket is None:
                bucket = self._buckets[tenant_id] = TokenBucket(self.rate, self.burst, now)
                if len(self._buckets) > self._max_tenants:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(tenant_id)
            return bucket.take(now)

    def __len__(self) -> int:
        """How many tenants have a bucket now (bounded by max_tenants)."""
        with self._lock:
            return len(self._buckets)

    def __repr__(self) -> str:
        """The limits and the number of buckets (tenant ids are not secret, but there may be many)."""
        return f"RateLimiter(rate={self.rate:g}/s, burst={self.burst}, tenants={len(self._buckets)})"
