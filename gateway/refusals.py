"""The requests the gateway refused for a tenant, kept for a bounded time (docs/design.md "Refused requests"):
the one module that knows the table refused_requests (gateway/migrations/004_refused_requests.sql).

What a row holds: when, the HTTP status, the problem's code, the reason as the sender was told it (a
401 with what went wrong in a word first: only the tenant's own people read it), the failing fields'
paths of a 422, and the endpoint (autentikapp, shopify, woocommerce). Never the body, a signature, a
header value, a field's value: quoted values in a reason (a 409's transaction id, a duplicate JSON key)
are blanked, and a 422's messages are not kept, only its paths.

`RefusalRecorder` is the request path's side, one per gunicorn worker. `record` never blocks on the
database and never raises: it takes a token from the tenant's bucket (at most `per_tenant_rate` a second
per tenant and worker, so one noisy sender cannot flood the table) and appends to a bounded in-memory
queue (full: dropped). One background thread drains the queue in batches (one INSERT per batch, on the
worker's tenants pool) and prunes, at most once per `prune_interval`: rows past the retention, and each
recently written tenant's rows beyond its cap. Whatever is left out is counted in
metrics.REFUSALS_DROPPED by reason; a database error is logged at most once per ERROR_LOG_INTERVAL.

Only a tenant that exists gets rows: the insert keeps only rows whose tenant is in `tenants`, so a
made-up id records nothing, and the sender's answer does not depend on it. A refusal whose tenant the
request did not confirm (a 413 or a Standard Webhooks header fault come before any tenant is looked at;
a 401 for a tenant not in this worker's cache) shares one more bucket per worker (`unverified_rate`), so
strangers flooding made-up ids cannot crowd out real tenants' refusals.

`list_refused` is the reader: a tenant's refusals, newest first, a page at a time.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool

from common import db, ids, paging, timestamps
from gateway import metrics, settings
from gateway.problems import Problem
from gateway.rate_limit import RateLimiter

log = logging.getLogger(__name__)

SOURCES = ("autentikapp", "shopify", "woocommerce")
# The refusals kept: bad requests, signatures, conflicts, sizes, content types, payload rules, rate limit.
RECORDED_STATUSES = frozenset({400, 401, 409, 413, 415, 422, 429})
MAX_REASON = 500
MAX_FIELDS = 50
MAX_FIELD_PATH = 200
MAX_CODE = 64

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# Per worker process.
QUEUE_SIZE = 10_000
BATCH_SIZE = 500
PER_TENANT_RATE = 1.0  # rows a second per tenant, sustained...
PER_TENANT_BURST = 20  # ...after a burst of this many
UNVERIFIED_RATE = 20.0  # rows a second, all unconfirmed tenants together...
UNVERIFIED_BURST = 100
PRUNE_INTERVAL_SECONDS = 60.0
PRUNE_BATCH = 5_000  # rows past the retention deleted per prune, at most
PRUNE_TENANTS = 500  # tenants whose cap is applied per prune, at most
ERROR_LOG_INTERVAL = 60.0
WRITE_TIMEOUT_SECONDS = 5.0  # the wait for a pooled connection
CLOSE_TIMEOUT_SECONDS = 2.0  # what worker_exit waits for the queue to be written, at most

# What a 401's cause means, for the tenant's own people: they hold the secrets, so telling them which
# check failed reveals nothing a stranger could use (a stranger is never shown these rows).
SIGNATURE_CAUSES = {
    "missing": "No signature was sent.",
    "malformed": "The signature is not in the expected form.",
    "mismatch": "The signature does not match any active secret.",
    "unknown_tenant": "There is no active secret for this endpoint.",
    "stale_timestamp": "The signature's timestamp is outside the tolerance.",
    "timestamp_required": "Only timestamped signatures are accepted.",
}
_DOUBLE_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')  # a JSON string: a value the sender sent (409)
_SINGLE_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")  # a Python repr: a duplicate key of the body (400)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class RefusedRequest:
    """One refused request as listed: why, never what it carried."""

    received_at: datetime
    http_status: int
    code: str
    reason: str
    fields: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Refusal(RefusedRequest):
    """One refused request to record: what is listed of it, and the tenant it is recorded for (built by
    `refusal_of`, already safe to keep)."""

    tenant_id: str = field(kw_only=True)


def _clean(text: str, limit: int) -> str:
    """`text` without control characters, at most `limit` characters (cut with an ellipsis)."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def reason_of(problem: Problem) -> str:
    """What the sender was told, safe to keep: a 401 says first which check failed; quoted values (a
    transaction id, a JSON key) are blanked; at most MAX_REASON characters."""
    detail = _DOUBLE_QUOTED.sub('"…"', problem.detail)
    if problem.kind.code == "malformed-json":
        detail = _SINGLE_QUOTED.sub("'…'", detail)
    cause = SIGNATURE_CAUSES.get(problem.cause or "") if problem.kind.status == 401 else None
    return _clean(f"{cause} {detail}" if cause else detail, MAX_REASON)


def fields_of(problem: Problem) -> tuple[str, ...]:
    """The failing fields' paths of a 422 (never their messages, which may quote a value): in order,
    each once, at most MAX_FIELDS, each at most MAX_FIELD_PATH characters."""
    if problem.kind.status != 422 or not problem.errors:
        return ()
    paths: dict[str, None] = {}
    for error in problem.errors:
        path = error.get("field")
        if isinstance(path, str):
            paths.setdefault(_clean(path, MAX_FIELD_PATH), None)
        if len(paths) >= MAX_FIELDS:
            break
    return tuple(paths)


def refusal_of(problem: Problem, tenant_id: str, source: str, received_at: datetime | None = None) -> Refusal:
    """The row to keep for `problem`, answered to a request for `tenant_id` on the `source` endpoint."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    return Refusal(received_at or timestamps.now(), problem.kind.status, _clean(problem.kind.code, MAX_CODE),
                   reason_of(problem), fields_of(problem), source, tenant_id=tenant_id)


_INSERT = """
    INSERT INTO refused_requests (tenant_id, received_at, http_status, code, reason, fields, source)
    SELECT r.tenant_id, r.received_at, r.http_status, r.code, r.reason, r.fields::jsonb, r.source
    FROM unnest(%s::text[], %s::timestamptz[], %s::int[], %s::text[], %s::text[], %s::text[], %s::text[])
         AS r (tenant_id, received_at, http_status, code, reason, fields, source)
    WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = r.tenant_id)
    RETURNING tenant_id"""

_PRUNE_OLD = """
    DELETE FROM refused_requests WHERE id IN (
        SELECT id FROM refused_requests WHERE received_at < now() - make_interval(hours => %s)
        ORDER BY received_at LIMIT %s)"""

# Per tenant, the newest `cap` rows stay: everything at or before the (cap + 1)-th newest goes.
_PRUNE_OVER_CAP = """
    DELETE FROM refused_requests r USING (
        SELECT t.tenant_id, c.received_at, c.id
        FROM unnest(%s::text[]) AS t (tenant_id)
        CROSS JOIN LATERAL (
            SELECT received_at, id FROM refused_requests WHERE tenant_id = t.tenant_id
            ORDER BY received_at DESC, id DESC OFFSET %s LIMIT 1) c
    ) cut
    WHERE r.tenant_id = cut.tenant_id AND (r.received_at, r.id) <= (cut.received_at, cut.id)"""


class RefusalRecorder:
    """A worker's record of refused requests: `record` from request threads, one drain thread writing.

    Thread-safe. `flush` waits for what was recorded so far to be written (tests, shutdown); `prune`
    prunes now; `close` writes what is queued (within CLOSE_TIMEOUT_SECONDS) and stops the thread.
    """

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        retention_hours: int = settings.DEFAULT_REFUSED_RETENTION_HOURS,
        max_per_tenant: int = settings.DEFAULT_REFUSED_MAX_PER_TENANT,
        queue_size: int = QUEUE_SIZE,
        batch_size: int = BATCH_SIZE,
        per_tenant_rate: float = PER_TENANT_RATE,
        per_tenant_burst: int = PER_TENANT_BURST,
        unverified_rate: float = UNVERIFIED_RATE,
        unverified_burst: int = UNVERIFIED_BURST,
        prune_interval: float = PRUNE_INTERVAL_SECONDS,
        start: bool = True,
    ):
        """Record on `pool` (the worker's tenants pool). `start=False` leaves the drain thread unstarted
        (tests: a queue that nothing empties)."""
        if retention_hours < 1 or max_per_tenant < 1 or queue_size < 1 or batch_size < 1:
            raise ValueError("retention_hours, max_per_tenant, queue_size and batch_size must be >= 1")
        self._pool = pool
        self.retention_hours = retention_hours
        self.max_per_tenant = max_per_tenant
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._prune_interval = prune_interval
        self._per_tenant = RateLimiter(per_tenant_rate, per_tenant_burst)
        self._unverified = RateLimiter(unverified_rate, unverified_burst, max_tenants=1)
        self._pending: deque[Refusal] = deque()
        self._cond = threading.Condition()
        self._queued = 0  # refusals ever queued...
        self._settled = 0  # ...and ever written or given up on: flush waits for them to meet
        self._stopping = False
        self._touched: set[str] = set()  # tenants written since their cap was last applied
        self._touched_lock = threading.Lock()
        self._last_error_log = float("-inf")
        self._errors_since_log = 0
        self._thread = threading.Thread(target=self._run, name="refused-requests", daemon=True)
        if start:
            self._thread.start()

    def __repr__(self) -> str:
        """The bounds and how much is queued."""
        return (f"RefusalRecorder(retention={self.retention_hours}h, max_per_tenant={self.max_per_tenant}, "
                f"queued={len(self._pending)}/{self._queue_size})")

    # The request path.

    def record(self, refusal: Refusal, *, verified: bool) -> bool:
        """Queue `refusal` for writing; False when it is left out (counted by reason). `verified`: the
        request proved its tenant exists (a verified signature, or the tenant in the worker's cache);
        otherwise it spends the shared unverified budget first. Never blocks, never raises."""
        try:
            if self._stopping:
                return False
            if not verified and self._unverified.acquire("") > 0:
                return _dropped("unverified_limit")
            if self._per_tenant.acquire(refusal.tenant_id) > 0:
                return _dropped("tenant_limit")
            with self._cond:
                if len(self._pending) >= self._queue_size:
                    full = True
                else:
                    full = False
                    self._pending.append(refusal)
                    self._queued += 1
                    self._cond.notify()
            return _dropped("queue_full") if full else True
        except Exception:  # noqa: BLE001 - the refusal is answered whatever happens here
            log.exception("could not queue a refused request")
            return False

    # Tests and shutdown.

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every refusal queued before this call is written (or given up on); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._queued
            self._cond.notify_all()
            while self._settled < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        """Write what is queued (for up to `timeout`) and stop the drain thread; idempotent. Call it
        before the pool is closed (gateway.dependencies.AppDependencies.close does)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("refused requests still queued at exit were not written in %.0fs", timeout)

    def prune(self) -> int:
        """Delete rows past the retention (at most PRUNE_BATCH) and, for tenants written since their last
        prune (at most PRUNE_TENANTS), rows beyond the per-tenant cap; the rows deleted. Raises
        psycopg and pool errors (the drain thread logs them)."""
        with self._touched_lock:
            tenants = sorted(self._touched)[:PRUNE_TENANTS]
            self._touched.difference_update(tenants)
        try:
            with self._pool.connection(timeout=WRITE_TIMEOUT_SECONDS) as conn:
                deleted = conn.execute(_PRUNE_OLD, (self.retention_hours, PRUNE_BATCH)).rowcount
                if tenants:
                    deleted += conn.execute(_PRUNE_OVER_CAP, (tenants, self.max_per_tenant)).rowcount
        except BaseException:
            with self._touched_lock:
                self._touched.update(tenants)  # their cap is applied next time
            raise
        return deleted

    # The drain thread.

    def _run(self) -> None:
        """Drain the queue in batches; prune every `prune_interval`; on close, drain what is left, then stop."""
        next_prune = time.monotonic() + self._prune_interval
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    remaining = next_prune - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch = [self._pending.popleft() for _ in range(min(self._batch_size, len(self._pending)))]
                last = self._stopping and not self._pending
            if self._pool.closed:  # the worker is going away without close(): nothing can be written
                self._abandon(batch)
                return
            if batch:
                self._write(batch)
            if last:
                return
            if time.monotonic() >= next_prune and not self._stopping:
                try:
                    self.prune()
                except Exception as exc:  # noqa: BLE001 - logged and retried at the next interval
                    self._database_error("could not prune refused requests", exc)
                next_prune = time.monotonic() + self._prune_interval

    def _write(self, batch: list[Refusal]) -> None:
        """Insert one batch in one statement (rows of a tenant that does not exist are left out)."""
        columns = ([r.tenant_id for r in batch], [r.received_at for r in batch], [r.http_status for r in batch],
                   [r.code for r in batch], [r.reason for r in batch],
                   [json.dumps(list(r.fields), ensure_ascii=False) for r in batch], [r.source for r in batch])
        try:
            with self._pool.connection(timeout=WRITE_TIMEOUT_SECONDS) as conn:
                with conn.cursor(row_factory=tuple_row) as cur:
                    cur.execute(_INSERT, columns)
                    written = [row[0] for row in cur.fetchall()]
            if written:
                metrics.REFUSALS_RECORDED.inc(len(written))
                with self._touched_lock:
                    self._touched.update(written)
        except Exception as exc:  # noqa: BLE001 - never raised to a request; counted and logged
            metrics.REFUSALS_DROPPED.labels("database").inc(len(batch))
            self._database_error(f"could not record {len(batch)} refused requests", exc)
        finally:
            with self._cond:
                self._settled += len(batch)
                self._cond.notify_all()

    def _abandon(self, batch: list[Refusal]) -> None:
        """Stop for good once the pool is closed: `batch` and whatever is queued are counted as lost."""
        with self._cond:
            self._stopping = True
            lost = batch + list(self._pending)
            self._pending.clear()
            self._settled += len(lost)
            self._cond.notify_all()
        if lost:
            metrics.REFUSALS_DROPPED.labels("database").inc(len(lost))
        log.debug("the pool is closed: %d refused requests not recorded, recorder stopped", len(lost))

    def _database_error(self, what: str, exc: Exception) -> None:
        """Log a database failure at most once per ERROR_LOG_INTERVAL, with how many were not logged."""
        now = time.monotonic()
        self._errors_since_log += 1
        if now - self._last_error_log < ERROR_LOG_INTERVAL:
            return
        log.warning("%s: %s (%d database errors since the last such line)", what, _describe(exc),
                    self._errors_since_log)
        self._last_error_log = now
        self._errors_since_log = 0


def _dropped(reason: str) -> bool:
    """Count one refusal left out; False (what `record` returns then)."""
    metrics.REFUSALS_DROPPED.labels(reason).inc()
    return False


def _describe(exc: Exception) -> str:
    """An error in a word or two: its SQLSTATE or type, never its message (which may quote a row)."""
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__} {sqlstate}" if sqlstate else type(exc).__name__


# The reader.

_PAGE = """
    SELECT id, received_at, http_status, code, reason, fields, source FROM refused_requests
    WHERE tenant_id = %(tenant)s AND received_at > now() - make_interval(hours => %(hours)s) {after}
    ORDER BY received_at DESC, id DESC
    LIMIT %(limit)s"""
_FIRST_PAGE = _PAGE.format(after="")
_NEXT_PAGE = _PAGE.format(after="AND (received_at, id) < (%(after_at)s::timestamptz, %(after_id)s::bigint)")


def list_refused(pool: ConnectionPool, tenant_id: str, page_size: int, page_token: str, *,
                 retention_hours: int | None = None) -> tuple[list[RefusedRequest], str]:
    """One page of the tenant's refused requests, newest first, and the token of the next page ("" on
    the last). Rows past the retention (`retention_hours`, else GATEWAY_REFUSED_RETENTION_HOURS) are never
    listed, pruned or not. InvalidArgument for a malformed tenant id, a page_size outside
    1..MAX_PAGE_SIZE, or a token not issued for this tenant's list; Unavailable when the database is."""
    ids.tenant_id(tenant_id)
    paging.page_size(page_size, default=None, maximum=MAX_PAGE_SIZE)
    scope = {"tenant": tenant_id, "list": "refused_requests"}
    after = paging.decode(page_token, scope, (paging.timestamp, paging.integer))
    hours = retention_hours if retention_hours is not None else settings.refused_retention_hours()
    params = {"tenant": tenant_id, "hours": hours, "limit": page_size + 1,
              "after_at": after[0] if after else None, "after_id": after[1] if after else None}
    with db.sync_connection(pool, "the gateway's database") as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_NEXT_PAGE if after else _FIRST_PAGE, params)
        rows = cur.fetchall()
    next_token = ""
    if len(rows) > page_size:
        rows = rows[:page_size]
        next_token = paging.encode(scope, [rows[-1]["received_at"].isoformat(), rows[-1]["id"]])
    return [RefusedRequest(row["received_at"], row["http_status"], row["code"], row["reason"],
                           tuple(row["fields"] or ()), row["source"]) for row in rows], next_token

