"""Every POST needs its CSRF token: the session's once signed in, the login cookie's on the sign-in form.
A refusal is a 403 page that says nothing changed, and nothing did."""

from __future__ import annotations

import pytest
from dashboard_support import PASSWORD, csrf_token, session_token, sign_in

from dashboard.csrf import login_cookie_name
from dashboard.sessions import SECURE_COOKIE

SECRETS = "/configuracion/integraciones/webhooks/secrets"


@pytest.fixture
def admin(client, people):
    sign_in(client, "acme", "ana@acme.example")
    return client


@pytest.mark.parametrize("form", [{}, {"csrf_token": ""}, {"csrf_token": "forged"}])
def test_an_admin_action_without_the_right_token_is_refused_and_changes_nothing(admin, gateway, form):
    before = gateway.list_secrets("acme")
    response = admin.post(SECRETS, data=form)
    assert response.status_code == 403
    assert "El formulario ha caducado" in response.get_data(as_text=True)
    assert gateway.list_secrets("acme") == before


def test_another_sessions_token_does_not_do(app, admin, gateway, people):
    other = app.test_client()
    sign_in(other, "acme", "ana@acme.example")
    assert admin.post(SECRETS, data={"csrf_token": session_token(other)}).status_code == 403
    assert admin.post(SECRETS, data={"csrf_token": session_token(admin)}).status_code == 201


def test_revoke_without_the_token_is_refused(admin, gateway):
    secret_id = gateway.list_secrets("acme")[0].id
    assert admin.post(f"{SECRETS}/{secret_id}/revoke").status_code == 403
    assert gateway.list_secrets("acme")[0].active


def test_sign_out_without_the_token_is_refused(admin):
    assert admin.post("/logout").status_code == 403
    assert admin.get("/configuracion/integraciones/webhooks").status_code == 200


def test_sign_in_needs_the_login_cookie_and_the_same_value_in_the_form(client, people):
    fields = {"tenant": "acme", "email": "ana@acme.example", "password": PASSWORD}
    assert client.post("/login", data=fields).status_code == 403  # no cookie, no field
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={**fields, "csrf_token": "other"}).status_code == 403
    client.delete_cookie(login_cookie_name(True))
    assert client.post("/login", data={**fields, "csrf_token": token}).status_code == 403
    assert client.get_cookie(SECURE_COOKIE) is None
    assert sign_in(client, "acme", "ana@acme.example").status_code == 303


def test_the_login_csrf_cookie_is_host_only_httponly_and_gone_after_sign_in(client, people):
    response = client.get("/login")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-"))
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header and "Domain" not in header
    sign_in(client, "acme", "ana@acme.example")
    assert client.get_cookie(login_cookie_name(True)) is None


def test_a_post_after_the_session_expired_is_refused_not_performed(admin, gateway, clock):
    token = session_token(admin)
    clock.advance(hours=9)
    before = gateway.list_secrets("acme")
    assert admin.post(SECRETS, data={"csrf_token": token}).status_code == 403
    assert gateway.list_secrets("acme") == before
