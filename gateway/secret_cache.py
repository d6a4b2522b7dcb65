"""A small per-process TTL cache of each tenant's active secrets, in front of the tenants store.

Bound: a secret revoked (or a tenant created) in the database takes effect in every gateway worker
within `ttl_seconds` (GATEWAY_SECRET_CACHE_SECONDS, default 30 s; 0 disables caching). Unknown
tenants are cached too (as "no secrets"), so a flood of requests for made-up tenant ids does not
reach the database more than once per id and TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class SecretSource(Protocol):
    """What the cache reads from: the tenants store (or a fake in unit tests)."""

    def active_secrets(self, tenant_id: str) -> list[str]: ...


class SecretCache:
    """Thread-safe TTL cache: tenant id -> its active secrets."""

    def __init__(
        self,
        source: SecretSource,
        ttl_seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        """Cache `source.active_secrets` for `ttl_seconds`; at most `max_entries` tenants are kept."""
        self._source = source
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def active_secrets(self, tenant_id: str) -> tuple[str, ...]:
        """The tenant's active secrets, from the cache while fresh, else from the source (may raise Unavailable)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(tenant_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        secrets = tuple(self._source.active_secrets(tenant_id))
        if self._ttl > 0:
            with self._lock:
                if len(self._entries) >= self._max_entries:
                    self._evict(now)
                self._entries[tenant_id] = (now + self._ttl, secrets)
        return secrets

    def __repr__(self) -> str:
        """The TTL and the number of cached tenants, never the cached values (they are secrets)."""
        return f"SecretCache(ttl={self._ttl:g}s, tenants={len(self._entries)})"

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
