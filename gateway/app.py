"""The Flask application factory: configuration, dependencies, blueprints, error answers, request log.

`create_app()` runs in each gunicorn worker after the fork (gateway/wsgi.py is imported there; the app
is never preloaded), so the NATS connection and the database pool belong to that worker alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from common import ids
from gateway import platform_webhooks, probes, problems, refusals, webhooks
from gateway.dependencies import (
    EXTENSION,
    AppDependencies,
    PublisherLike,
    TenantStoreLike,
    dependencies,
)
from gateway.problems import Problem
from gateway.rate_limit import RateLimiter
from gateway.refusals import RefusalRecorder
from gateway.senders import TenantSenders
from gateway.settings import GatewaySettings
from gateway.tenant_cache import TenantCache

log = logging.getLogger(__name__)
access_log = logging.getLogger("gateway.access")

# How long a new worker waits for its first NATS connection before serving anyway (it then answers
# 503 until connected, and /readyz says so).
FIRST_CONNECT_WAIT_SECONDS = 2.0
# The endpoints whose refusals are recorded for their tenant (gateway/refusals.py), and their source.
REFUSAL_SOURCES = {
    "webhooks.inbound": "autentikapp",
    "platform_webhooks.from_shopify": "shopify",
    "platform_webhooks.from_woocommerce": "woocommerce",
}


def create_app(
    test_config: Mapping[str, Any] | None = None,
    *,
    tenant_store: TenantStoreLike | None = None,
    publisher: PublisherLike | None = None,
    refusal_recorder: RefusalRecorder | None = None,
) -> Flask:
    """Build the app. Production builds the store and publisher from the environment; tests inject them.

    `test_config` overrides config keys: MAX_BODY_BYTES, PUBLISH_TIMEOUT_SECONDS, RETRY_AFTER_SECONDS,
    SECRET_CACHE_SECONDS, SIGNATURE_TOLERANCE_SECONDS, RATE_LIMIT_PER_SECOND (0 disables the limit), RATE_LIMIT_BURST,
    REFUSED_RETENTION_HOURS, REFUSED_MAX_PER_TENANT.
    The real tenants store needs GATEWAY_ENCRYPTION_KEYS (ConfigError without it); an injected one does not.
    Refused requests are recorded (gateway/refusals.py) by `refusal_recorder` when given, else on the real
    store's pool (with an injected fake store nothing is recorded); close_app stops the recorder.
    """
    settings = GatewaySettings.from_env()
    app = Flask(__name__)
    app.config.from_mapping(
        MAX_BODY_BYTES=settings.max_body_bytes,
        PUBLISH_TIMEOUT_SECONDS=settings.publish_timeout_seconds,
        RETRY_AFTER_SECONDS=settings.retry_after_seconds,
        SECRET_CACHE_SECONDS=settings.secret_cache_seconds,
        SIGNATURE_TOLERANCE_SECONDS=settings.signature_tolerance_seconds,
        RATE_LIMIT_PER_SECOND=settings.rate_limit_per_second,
        RATE_LIMIT_BURST=settings.rate_limit_burst,
        REFUSED_RETENTION_HOURS=settings.refused_retention_hours,
        REFUSED_MAX_PER_TENANT=settings.refused_max_per_tenant,
    )
    if test_config:
        app.config.from_mapping(test_config)

    if tenant_store is None:
        from gateway import encryption_keys
        from gateway.tenants import TenantStore

        tenant_store = TenantStore.open(settings.database_url, keyring=encryption_keys.from_env(),
                                        min_size=settings.pool_min, max_size=settings.pool_max)
    if publisher is None:
        from gateway.publisher import Publisher

        publisher = Publisher(settings.bus).start()
        if not publisher.wait_connected(FIRST_CONNECT_WAIT_SECONDS):
            log.warning("NATS not reachable yet; answering 503 until it is")
    app.extensions[EXTENSION] = AppDependencies(
        tenant_store=tenant_store,
        senders=TenantCache("senders", lambda tenant_id: tenant_store.senders(tenant_id),
                            app.config["SECRET_CACHE_SECONDS"], is_unknown=TenantSenders.is_empty),
        buyer_rules=TenantCache("buyer rules", lambda tenant_id: tenant_store.buyer_rules(tenant_id),
                                app.config["SECRET_CACHE_SECONDS"]),
        publisher=publisher,
        rate_limiter=_rate_limiter(app.config["RATE_LIMIT_PER_SECOND"], app.config["RATE_LIMIT_BURST"]),
        refusals=refusal_recorder or _refusal_recorder(tenant_store, app.config["REFUSED_RETENTION_HOURS"],
                                                       app.config["REFUSED_MAX_PER_TENANT"]),
    )

    app.register_blueprint(probes.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(platform_webhooks.bp)
    _register_error_handlers(app)
    app.before_request(_start_timer)
    app.after_request(_log_request)
    return app


def _rate_limiter(per_second: float, burst: int) -> RateLimiter | None:
    """This worker's per-tenant limiter, or None when the limit is disabled (0 per second)."""
    if per_second <= 0:
        return None
    return RateLimiter(per_second, burst)


def _refusal_recorder(tenant_store: TenantStoreLike, retention_hours: int,
                      max_per_tenant: int) -> RefusalRecorder | None:
    """This worker's record of refused requests, on the tenants store's pool; None for another store (a
    test's fake)."""
    from gateway.tenants import TenantStore

    if not isinstance(tenant_store, TenantStore):
        return None
    return RefusalRecorder(tenant_store.pool, retention_hours=retention_hours, max_per_tenant=max_per_tenant)


def close_app(app: Flask) -> None:
    """Release the app's connections (gunicorn's worker_exit hook calls this)."""
    deps = app.extensions.get(EXTENSION)
    if deps is not None:
        deps.close()


def _register_error_handlers(app: Flask) -> None:
    """Every error, ours or Werkzeug's (404, 405, ...), is answered as problem+json."""

    @app.errorhandler(Problem)
    def on_problem(exc: Problem) -> Response:
        """A view refused the request: the answer, and the refusal kept for its tenant."""
        response = exc.to_response()
        _record_refusal(exc)
        return response

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Response:
        """Routing and protocol errors from Werkzeug, in the same shape."""
        known = {k.status: k for k in (problems.BAD_REQUEST, problems.NOT_FOUND, problems.METHOD_NOT_ALLOWED,
                                       problems.PAYLOAD_TOO_LARGE)}
        status = exc.code or 500
        kind = known.get(status) or problems.ProblemType(f"http-{status}", status, exc.name)
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        return Problem(kind, exc.description or kind.title, headers=headers).to_response()

    @app.errorhandler(Exception)
    def on_unexpected(exc: Exception) -> Response:
        """A bug: logged with its traceback here, answered without one."""
        log.exception("unhandled error on %s %s", request.method, request.path)
        return Problem(problems.INTERNAL_ERROR, "An internal error occurred.").to_response()


def _record_refusal(problem: Problem) -> None:
    """Keep `problem` in the record of its tenant's refused requests (gateway/refusals.py) when it is one
    kept there and was answered on a tenant's endpoint. The tenant counts as verified once its signature
    held (g.tenant_id) or while this worker's cache knows it has secrets; otherwise (a 413, a 401 for a
    tenant not cached) the insert keeps it only if the tenant exists. Never raises, never waits on the
    database, never changes the answer."""
    try:
        recorder = dependencies().refusals
        source = REFUSAL_SOURCES.get(request.endpoint or "")
        tenant_id = (request.view_args or {}).get("tenant_id")
        if (recorder is None or source is None or problem.kind.status not in refusals.RECORDED_STATUSES
                or not isinstance(tenant_id, str) or not ids.is_tenant_id(tenant_id)):
            return
        verified = g.get("tenant_id") == tenant_id
        if not verified:
            cached = dependencies().senders.peek(tenant_id)
            verified = cached is not None and not cached.is_empty()
        recorder.record(refusals.refusal_of(problem, tenant_id, source), verified=verified)
    except Exception:  # noqa: BLE001 - the refusal is answered whatever happens here
        log.exception("could not record a refused request")


def _start_timer() -> None:
    """Note when the request started, for the log line."""
    g.started = time.perf_counter()


def _log_request(response: Response) -> Response:
    """One line per request: method, path, status, duration; event id when there is one. No body, no
    headers (so never the signature). Nothing is built when INFO lines are not wanted (LOG_LEVEL)."""
    if not access_log.isEnabledFor(logging.INFO):
        return response
    elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    event_id = g.get("event_id")
    tenant_id = g.get("tenant_id")
    suffix = ""
    extra: dict[str, Any] = {}
    if event_id:
        suffix = f" event_id={event_id}"
        if "duplicate" in g:  # only once JetStream has stored it
            suffix += f" duplicate={str(g.duplicate).lower()}"
        extra["event_id"] = event_id
    if tenant_id:
        extra["tenant_id"] = tenant_id
    path = request.path[:300].encode("unicode_escape").decode("ascii")  # no control characters in logs
    extra["fields"] = {"method": request.method, "path": path, "status": response.status_code,
                       "duration_ms": round(elapsed_ms, 1)}
    access_log.info("%s %s %d %.1fms%s", request.method, path, response.status_code, elapsed_ms, suffix, extra=extra)
    return response
