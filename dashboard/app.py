"""The Flask application factory: dependencies, the request's session and language, CSRF, error pages
and the headers every answer carries.

Server-rendered pages; the only script is a nonce'd inline one for the copy button. `create_app()` runs
in each gunicorn worker after the fork (dashboard/wsgi.py), so the pool belongs to that worker alone.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from flask import Flask, Response, g, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from common import grpc_tls, timestamps
from common.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from dashboard import csrf, db, i18n, metrics, oidc, web
from dashboard.csrf import CsrfRefused
from dashboard.gateway_api import GrpcTenantAdmin, TenantAdmin
from dashboard.outcomes_api import EventOutcomes, GrpcEventOutcomes
from dashboard.passwords import Passwords
from dashboard.sessions import CookiePolicy, SessionStore
from dashboard.settings import DashboardSettings
from dashboard.users import UserStore
from dashboard.views import auth, events, operations, probes, users, webhooks

log = logging.getLogger(__name__)
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self'; "
                           "form-action 'self'{form_action}; frame-ancestors 'none'; base-uri 'none'")
LOGIN_FORMS = ("auth.login_submit", "auth.oidc_start")  # POSTs checked against the login CSRF cookie


def create_app(settings: DashboardSettings | None = None, *, tenant_admin: TenantAdmin | None = None,
               event_outcomes: EventOutcomes | None = None, passwords: Passwords | None = None,
               clock: Callable[[], datetime] | None = None) -> Flask:
    """Build the app on the database of `settings` (default: from the environment), calling the gateway's
    admin API and the processor's outcomes API over mutual TLS. Unit tests inject fakes of those two,
    cheaper password parameters and a clock they move by hand."""
    settings = settings or DashboardSettings.from_env()
    clock = clock or timestamps.now
    channels = []
    if tenant_admin is None:
        channels.append(grpc_tls.channel(settings.gateway_admin_addr, grpc_tls.required(settings.tls)))
        tenant_admin = GrpcTenantAdmin(channels[-1])
    if event_outcomes is None:
        channels.append(grpc_tls.channel(settings.processor_addr, grpc_tls.required(settings.tls)))
        event_outcomes = GrpcEventOutcomes(channels[-1])
    pool = db.open_pool(settings.database_url, min_size=settings.pool_min, max_size=settings.pool_max)
    app = Flask(__name__)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    app.extensions[web.EXTENSION] = web.Dependencies(
        users=UserStore(pool, passwords or Passwords(), settings.login, clock),
        sessions=SessionStore(pool, lifetime_seconds=settings.session_lifetime_seconds,
                              idle_seconds=settings.session_idle_seconds, clock=clock),
        tenant_admin=tenant_admin,
        event_outcomes=event_outcomes,
        cookies=CookiePolicy(settings.secure_cookies),
        public_base_url=settings.public_base_url,
        pool=pool,
        channels=channels,
        sso=oidc.SingleSignOn.build(settings.oidc, pool, clock, settings.dashboard_url) if settings.oidc else None,
    )
    app.register_blueprint(probes.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(operations.bp)
    app.register_blueprint(users.bp)
    app.before_request(_load_session)
    app.before_request(_choose_language)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.context_processor(lambda: {"t": web.t, "lang": g.get("lang", i18n.DEFAULT), "current": web.current(),
                                   "csrf_field": csrf.FIELD, "csp_nonce": g.get("csp_nonce", ""),
                                   "languages": i18n.LANGUAGE_NAMES})
    _register_error_pages(app)
    return app


def close_app(app: Flask) -> None:
    """Release the app's pool (gunicorn's worker_exit hook, and tests)."""
    deps = app.extensions.get(web.EXTENSION)
    if deps is not None:
        deps.close()


def _load_session() -> None:
    """The request's session, from its cookie; an unknown or expired token is simply no session."""
    g.csp_nonce = secrets.token_urlsafe(16)
    if request.endpoint in ("static", "probes.healthz", "probes.readyz"):
        return
    deps = web.deps()
    g.session = deps.sessions.lookup(request.cookies.get(deps.cookies.name))


def _choose_language() -> None:
    """?lang= first (and remembered), then the session's or the `lang` cookie's, then the browser's."""
    asked = i18n.supported(request.args.get("lang"))
    session = web.current()
    remembered = session.lang if session else request.cookies.get(web.LANG_COOKIE)
    g.lang = i18n.choose([asked, remembered, i18n.from_accept_language(request.headers.get("Accept-Language"))])
    if asked and session is not None and session.lang != asked:
        web.deps().sessions.set_lang(session, asked)
    g.remember_lang = asked if asked and session is None and asked != remembered else None


def _check_csrf() -> None:
    """Every POST carries the right token: the session's, or on the sign-in form the login cookie's."""
    if request.method != "POST":
        return
    given = request.form.get(csrf.FIELD)
    session = web.current()
    if request.endpoint in LOGIN_FORMS:
        expected = request.cookies.get(csrf.login_cookie_name(web.deps().cookies.secure))
    else:
        expected = session.csrf_token if session else None
    if not csrf.matches(expected, given):
        raise CsrfRefused()


def _headers(response: Response) -> Response:
    """No caching of anything signed in (a new secret is on a page), no framing, no sniffing, a strict CSP."""
    form_action = "".join(f" {origin}" for origin in g.get("form_action_origins", ()))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(nonce=g.get("csp_nonce", ""),
                                                                                 form_action=form_action)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("Cookie")
    if g.get("remember_lang"):
        cookies = web.deps().cookies
        response.set_cookie(web.LANG_COOKIE, g.remember_lang, max_age=365 * 24 * 3600, httponly=True,
                            secure=cookies.secure, samesite="Lax", path="/")
    return response


def _error_page(status: int, title_key: str, body: str) -> tuple[str, int]:
    return render_template("error.html", status=status, title=web.t(title_key), body=body), status


def _register_error_pages(app: Flask) -> None:
    """Every error is a page in the user's language, with no detail of ours in it."""

    @app.errorhandler(CsrfRefused)
    def on_csrf(_exc):
        return _error_page(403, "error_title_csrf", web.t("error_body_csrf"))

    @app.errorhandler(web.Forbidden)
    def on_forbidden(_exc):
        return _error_page(403, "error_title_403", web.t("error_body_403"))

    @app.errorhandler(NotFound)
    def on_not_found(_exc):
        return _error_page(404, "error_title_404", web.t("error_body_404"))

    @app.errorhandler(InvalidArgument)
    @app.errorhandler(FailedPrecondition)
    def on_invalid(exc):
        return _error_page(400, "error_title_400", str(exc))

    @app.errorhandler(Unavailable)
    def on_unavailable(exc):
        metrics.PAGES_UNAVAILABLE.inc()
        log.warning("unavailable on %s %s: %s", request.method, request.path, exc)
        return _error_page(503, "error_title_503", web.t("error_body_503"))

    @app.errorhandler(HTTPException)
    def on_http(exc: HTTPException):
        status = exc.code or 500
        key = f"error_title_{status}" if f"error_title_{status}" in i18n.MESSAGES["es"] else None
        title = web.t(key) if key else exc.name
        body = web.t("error_body_404") if status == 404 else (exc.description or "")
        page = render_template("error.html", status=status, title=title, body=body)
        return Response(page, status, headers={k: v for k, v in exc.get_headers() if k.lower() == "allow"})

    @app.errorhandler(Exception)
    def on_unexpected(_exc):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_page(500, "error_title_500", web.t("error_body_500"))
