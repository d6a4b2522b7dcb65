"""A small per-process TTL cache of what the gateway reads about a tenant on every request (its senders:
secrets and signature settings; its buyer rules), in front of the tenants store.

Bound: a change in the database (a secret revoked, a tenant created, a default country set) takes
effect in every gateway worker within `ttl_seconds` (GATEWAY_SECRET_CACHE_SECONDS, default 30 s; 0
disables caching).

Unknown tenants are cached too, so a flood of requests for made-up tenant ids does not reach the
database more than once per id and TTL. They are kept apart, in a negative cache of their own bound:
such a flood evicts only other unknown ids (oldest first), never a real tenant, whose requests would
otherwise all go to the database while the flood lasts. A full part drops its oldest entries, which are
also the first to expire.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
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
        max_unknown: int = 10_000,
        is_unknown: Callable[[Value], bool] = lambda value: False,
        clock: Callable[[], float] = time.monotonic,
    ):
        """Cache `load(tenant_id)` for `ttl_seconds`: at most `max_entries` tenants and, apart, at most
        `max_unknown` values that `is_unknown` says belong to no tenant. `name` says what is cached."""
        self._name = name
        self._load = load
        self._ttl = ttl_seconds
        self._is_unknown = is_unknown
        self._clock = clock
        self._known: OrderedDict[str, tuple[float, Value]] = OrderedDict()
        self._unknown: OrderedDict[str, tuple[float, Value]] = OrderedDict()
        self._max_known = max_entries
        self._max_unknown = max_unknown
        self._lock = threading.Lock()

    def get(self, tenant_id: str) -> Value:
        """The tenant's value, from the cache while fresh, else loaded (may raise Unavailable)."""
        now = self._clock()
        with self._lock:
            entry = self._known.get(tenant_id) or self._unknown.get(tenant_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = self._load(tenant_id)
        if self._ttl > 0:
            unknown = self._is_unknown(value)
            part, other = (self._unknown, self._known) if unknown else (self._known, self._unknown)
            bound = self._max_unknown if unknown else self._max_known
            with self._lock:
                other.pop(tenant_id, None)  # a tenant created (or its last secret revoked) since
                part.pop(tenant_id, None)
                if len(part) >= bound:
                    self._evict(part, bound, now)
                part[tenant_id] = (now + self._ttl, value)
        return value

    def peek(self, tenant_id: str) -> Value | None:
        """The tenant's value while it is fresh in the cache, else None: never loads (for what must not
        wait on the database)."""
        now = self._clock()
        with self._lock:
            entry = self._known.get(tenant_id) or self._unknown.get(tenant_id)
        return entry[1] if entry is not None and entry[0] > now else None

    def __repr__(self) -> str:
        """What is cached, the TTL and the number of tenants, never the cached values (they may be secrets)."""
        return f"TenantCache({self._name}, ttl={self._ttl:g}s, tenants={len(self._known)}, unknown={len(self._unknown)})"

    __str__ = __repr__

    def __len__(self) -> int:
        """Entries held, known and unknown."""
        return len(self._known) + len(self._unknown)

    def invalidate(self, tenant_id: str | None = None) -> None:
        """Forget one tenant's entry, or all of them."""
        with self._lock:
            for part in (self._known, self._unknown):
                if tenant_id is None:
                    part.clear()
                else:
                    part.pop(tenant_id, None)

    @staticmethod
    def _evict(part: OrderedDict[str, tuple[float, Value]], bound: int, now: float) -> None:
        """Make room in one part: its oldest entries, expired or not, until it has room. Entries are kept in
        the order they were stored with one TTL, so the oldest are the first to expire: no scan, however
        large the flood."""
        while part and (len(part) >= bound or next(iter(part.values()))[0] <= now):
            part.popitem(last=False)
