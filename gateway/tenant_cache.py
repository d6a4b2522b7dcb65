"""A small per-process TTL cache of what the gateway reads about a tenant on every request (its active
secrets, its buyer rules), in front of the tenants store.

Bound: a change in the database (a secret revoked, a tenant created, a default country set) takes
effect in every gateway worker within `ttl_seconds` (GATEWAY_SECRET_CACHE_SECONDS, default 30 s; 0
disables caching). Unknown tenants are cached too (as "no secrets"), so a flood of requests for
made-up tenant ids does not reach the database more than once per id and TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class TenantCache(Generic[Value]):
    """Thread-safe TTL cache: tenant id -> what `load` returns for it (never shown: it may be secrets)."""

    def __init__(
        self,
        name: str,
        load: Callable[[str], Value],
        ttl_seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        """Cache `load(tenant_id)` for `ttl_seconds`; at most `max_entries` tenants are kept. `name` says
        what is cached, for reprs."""
        self._name = name
        self._load = load
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, Value]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: str) -> Value:
        """The tenant's value, from the cache while fresh, else loaded (may raise Unavailable)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(tenant_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = self._load(tenant_id)
        if self._ttl > 0:
            with self._lock:
                if len(self._entries) >= self._max_entries:
                    self._evict(now)
                self._entries[tenant_id] = (now + self._ttl, value)
        return value

    def __repr__(self) -> str:
        """What is cached, the TTL and the number of tenants, never the cached values (they may be secrets)."""
        return f"TenantCache({self._name}, ttl={self._ttl:g}s, tenants={len(self._entries)})"

    __str__ = __repr__

    def invalidate(self, tenant_id: str | None = None) -> None:
        """Forget one tenant's entry, or all of them."""
        with self._lock:
            if tenant_id is None:
                self._entries.clear()
            else:
                self._entries.pop(tenant_id, None)

    def _evict(self, now: float) -> None:
        """Drop expired entries; if the cache is still full (a flood of ids), drop everything."""
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
