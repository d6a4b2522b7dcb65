"""Sign-in and sign-out, with a password or, when configured, through the company's OpenID Connect
provider (dashboard/oidc.py).

A failed sign-in says the same whatever was wrong (customer id, e-mail, password, a disabled account,
no such user for the provider's e-mail), so nobody learns which accounts exist; a locked account or
address answers 429 with Retry-After.
"""

from __future__ import annotations

import logging
import math

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for

from common import ids
from common.errors import NotFound
from dashboard import csrf, metrics, oidc, web
from dashboard.users import SignIn, User

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
HOME = "webhooks.page"
MAX_CODE = 4096  # an authorization code longer than this is not one


@bp.get("/")
def index():
    return redirect(url_for(HOME if web.current() else "auth.login"), 303)


@bp.get("/login")
def login():
    """The sign-in form, with a fresh login CSRF token in a cookie and in the form."""
    if web.current() is not None:
        return redirect(url_for(HOME), 303)
    return _form(200)


def _form(status: int, *, error: str | None = None, tenant: str = "", email: str = "", retry_after: float = 0,
          sso_tenant: str = ""):
    """The sign-in page: the password form and, when single sign-on is on, the provider's form."""
    deps = web.deps()
    token = csrf.new_token()
    sso_label = deps.sso.settings.button_label if deps.sso else None
    if deps.sso:
        g.form_action_origins = deps.sso.form_action_origins()
    response = make_response(render_template("login.html", csrf_token=token, error=error, tenant=tenant,
                                             email=email, sso_label=sso_label, sso_tenant=sso_tenant), status)
    response.set_cookie(csrf.login_cookie_name(deps.cookies.secure), token, **deps.cookies.attributes())
    if retry_after:
        response.headers["Retry-After"] = str(math.ceil(retry_after))
    return response


def _refused(result: SignIn, **form):
    """The sign-in page after a failed sign-in: 429 with Retry-After when locked, else 401; one message."""
    if result.locked_for:
        minutes = max(1, math.ceil(result.locked_for / 60))
        return _form(429, error=web.t("login_locked", minutes=minutes), retry_after=result.locked_for, **form)
    return _form(401, error=web.t("login_failed"), **form)


def _signed_in(user: User):
    """A new session for `user` and its cookie; the login CSRF (and single sign-on) cookies are done."""
    deps = web.deps()
    token, _session = deps.sessions.create(user, g.lang)
    response = redirect(url_for(HOME), 303)
    response.set_cookie(deps.cookies.name, token, **deps.cookies.attributes())
    response.delete_cookie(csrf.login_cookie_name(deps.cookies.secure), **_deletion(deps))
    if deps.sso:
        response.delete_cookie(oidc.cookie_name(deps.cookies.secure), **_deletion(deps))
    return response


@bp.post("/login")
def login_submit():
    """Check the credentials (CSRF was checked by the app); on success a new session and its cookie."""
    deps = web.deps()
    tenant = request.form.get("tenant", "").strip()[:64]
    email = request.form.get("email", "").strip()[:320]
    password = request.form.get("password", "")
    result = deps.users.authenticate(tenant, email, password, web.client_address())
    metrics.SIGN_INS.labels("password", metrics.sign_in_result(result)).inc()
    if result.user is None:
        return _refused(result, tenant=tenant, email=email)
    return _signed_in(result.user)


def _sso() -> oidc.SingleSignOn:
    """Single sign-on's parts; its URLs do not exist (404) when it is off."""
    sso = web.deps().sso
    if sso is None:
        raise NotFound("single sign-on is not configured")
    return sso


@bp.post("/login/oidc")
def oidc_start():
    """Begin a sign-in through the provider (the login CSRF token was checked by the app): a pending login,
    its state in a cookie of this browser, and a redirect to the provider's authorization endpoint."""
    sso = _sso()
    deps = web.deps()
    tenant = request.form.get("tenant", "").strip()[:64]
    if not ids.is_tenant_id(tenant):
        return _form(401, error=web.t("login_failed"), sso_tenant=tenant)
    sso.provider.metadata()  # a provider that is down is the 503 page now, before any pending login
    callback = url_for("auth.oidc_callback")
    redirect_uri = sso.dashboard_url + callback if sso.dashboard_url else url_for("auth.oidc_callback", _external=True)
    state, pending = sso.logins.create(tenant, redirect_uri)
    response = redirect(sso.provider.authorization_url(state, pending), 303)
    response.set_cookie(oidc.cookie_name(deps.cookies.secure), state,
                        max_age=int(oidc.PENDING_LIFETIME.total_seconds()), **deps.cookies.attributes())
    return response


@bp.get("/login/oidc/callback")
def oidc_callback():
    """The provider sends the browser back here with `code` and `state`. The pending login must be this
    browser's, unused and recent (else 400); the code is exchanged and the ID token checked; the verified
    e-mail must be an active user of the tenant the sign-in began for. Tokens and codes are never logged."""
    sso = _sso()
    deps = web.deps()
    address = web.client_address()
    state = request.args.get("state", "")
    started_here = csrf.matches(request.cookies.get(oidc.cookie_name(deps.cookies.secure)), state)
    pending = sso.logins.consume(state) if started_here else None
    if pending is None:
        log.info("single sign-on callback refused: unknown, used, expired or another browser's state")
        response = _form(400, error=web.t("login_sso_expired", label=sso.settings.button_label))
        response.delete_cookie(oidc.cookie_name(deps.cookies.secure), **_deletion(deps))
        return response
    code = request.args.get("code", "")
    try:
        if request.args.get("error") or not code or len(code) > MAX_CODE:
            error = request.args.get("error", "")
            shown = error if error.replace("_", "").isalnum() and error.isascii() and len(error) < 40 else "?"
            raise oidc.SignInRefused(f"the provider sent no code (error={shown})")
        email = sso.provider.verified_email(code, pending)
    except oidc.SignInRefused as exc:
        log.info("single sign-on refused for tenant %s: %s", pending.tenant_id, exc)
        locked = deps.users.count_failed_sign_in(address)
        metrics.SIGN_INS.labels("oidc", metrics.sign_in_result(SignIn(None, locked))).inc()
        return _refused(SignIn(None, locked), sso_tenant=pending.tenant_id)
    result = deps.users.authenticate_verified_email(pending.tenant_id, email, address, "oidc")
    metrics.SIGN_INS.labels("oidc", metrics.sign_in_result(result)).inc()
    if result.user is None:
        log.info("single sign-on refused for tenant %s: no active user with the provider's e-mail", pending.tenant_id)
        return _refused(result, sso_tenant=pending.tenant_id)
    return _signed_in(result.user)


@bp.post("/logout")
def logout():
    """End the session (CSRF was checked by the app, so no other site can sign a user out)."""
    deps = web.deps()
    session = web.current()
    if session is not None:
        deps.sessions.revoke(session)
    response = redirect(url_for("auth.login"), 303)
    response.delete_cookie(deps.cookies.name, **_deletion(deps))
    return response


def _deletion(deps: web.Dependencies) -> dict:
    attrs = deps.cookies.attributes()
    return {"path": attrs["path"], "secure": attrs["secure"], "httponly": True, "samesite": attrs["samesite"]}
