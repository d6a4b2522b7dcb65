"""What every view shares: the app's dependencies, the signed-in session, the guards on views, and the
headers every answer carries.

The tenant a view acts on is always `current().user.tenant_id`, the signed-in user's: never a URL or
form value, so a user cannot reach another tenant's data by editing a request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, redirect, request, url_for
from psycopg_pool import ConnectionPool

from dashboard import i18n
from dashboard.gateway_api import TenantAdmin
from dashboard.oidc import SingleSignOn
from dashboard.outcomes_api import EventOutcomes
from dashboard.sessions import CookiePolicy, Session, SessionStore
from dashboard.users import UserStore

EXTENSION = "dashboard"
LANG_COOKIE = "lang"


class Forbidden(Exception):
    """The signed-in user's role does not allow the action (403)."""


@dataclass
class Dependencies:
    """What the app is built with (production: from the environment; tests: injected)."""

    users: UserStore
    sessions: SessionStore
    tenant_admin: TenantAdmin
    event_outcomes: EventOutcomes
    cookies: CookiePolicy
    public_base_url: str
    pool: ConnectionPool | None = None  # closed with the app when the app opened it
    channels: list = field(default_factory=list)  # the gRPC channels the app opened
    sso: SingleSignOn | None = None  # sign-in through the company's OpenID provider, when configured

    def close(self) -> None:
        for channel in self.channels:
            channel.close()
        if self.pool is not None:
            self.pool.close()


def deps() -> Dependencies:
    return current_app.extensions[EXTENSION]


def current() -> Session | None:
    """The signed-in session of this request, or None."""
    return g.get("session")


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send a visitor without a live session to the sign-in page."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current() is None:
            return redirect(url_for("auth.login"), 303)
        return view(*args, **kwargs)
    return wrapper


def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in, and an admin; a viewer gets 403."""
    @functools.wraps(view)
    @signed_in
    def wrapper(*args, **kwargs):
        if not current().user.is_admin:
            raise Forbidden()
        return view(*args, **kwargs)
    return wrapper


def t(key: str, **values: object) -> str:
    """A message in this request's language."""
    return i18n.translate(g.get("lang", i18n.DEFAULT), key, **values)


def client_address() -> str:
    """The client's address as the throttle counts it (behind DASHBOARD_TRUSTED_PROXIES, ProxyFix has
    already taken it from X-Forwarded-For)."""
    return request.remote_addr or "unknown"
