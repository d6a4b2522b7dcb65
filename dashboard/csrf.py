"""CSRF tokens on every form (OWASP's synchronizer token pattern).

Signed in: the session's own token (dashboard/sessions.py), put in each form as `csrf_token` and
compared in constant time on every POST. Before sign-in (the sign-in form itself, against login CSRF):
a random token in a cookie and the same value in the form (double submit); the cookie is host-only and
`__Host-` prefixed when Secure, so a sibling subdomain cannot plant one.
"""

from __future__ import annotations

import hmac
import secrets

FIELD = "csrf_token"
LOGIN_COOKIE = "autentikapp_login_csrf"


def login_cookie_name(secure: bool) -> str:
    return ("__Host-" if secure else "") + LOGIN_COOKIE


def new_token() -> str:
    return secrets.token_urlsafe(32)


def matches(expected: str | None, given: str | None) -> bool:
    """True when both are present and equal (constant time)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


class CsrfRefused(Exception):
    """A POST without the right token: answered 403 with a page that says nothing was changed."""
