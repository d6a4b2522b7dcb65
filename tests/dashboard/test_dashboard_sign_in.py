"""Sign-in and sign-out over HTTP (Flask's test client): the session cookie and its attributes, the same
answer for every wrong credential, lockout with 429 and Retry-After, and a new token at every sign-in."""

from __future__ import annotations

import pytest
from dashboard_support import PASSWORD, csrf_token, settings, sign_in

from dashboard.app import close_app, create_app
from dashboard.sessions import COOKIE, SECURE_COOKIE

PAGE = "/configuracion/integraciones/webhooks"


def set_cookie_headers(response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def test_signing_in_sets_a_secure_httponly_samesite_host_only_cookie_and_lands_on_the_page(client, people):
    response = sign_in(client, "acme", "ana@acme.example")
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    header = set_cookie_headers(response)[SECURE_COOKIE]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"secure", "httponly", "samesite", "path"} <= attributes
    assert "SameSite=Lax" in header and "Path=/" in header
    assert "domain" not in attributes and "max-age" not in attributes and "expires" not in attributes
    page = client.get(PAGE)
    assert page.status_code == 200 and "ana@acme.example" in page.get_data(as_text=True)


def test_make_runs_plain_http_cookie_is_not_secure_and_has_no_host_prefix(dashboard_db, gateway, outcomes, passwords,
                                                                         clock, people):
    app = create_app(settings(dashboard_db, secure_cookies=False), tenant_admin=gateway, event_outcomes=outcomes,
                     passwords=passwords,
                     clock=clock)
    try:
        response = sign_in(app.test_client(), "acme", "ana@acme.example")
        header = set_cookie_headers(response)[COOKIE]
        assert "Secure" not in header and "HttpOnly" in header and "SameSite=Lax" in header
    finally:
        close_app(app)


@pytest.mark.parametrize("tenant, email, password", [
    ("acme", "ana@acme.example", "wrong password!"),
    ("acme", "nobody@acme.example", PASSWORD),
    ("globex", "ana@acme.example", PASSWORD),
    ("unknown", "ana@acme.example", PASSWORD),
])
def test_every_wrong_credential_gets_the_same_401_page_and_no_session(client, people, tenant, email, password):
    response = sign_in(client, tenant, email, password)
    body = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "El ID de cliente, el correo o la contraseña no son correctos." in body
    assert SECURE_COOKIE not in set_cookie_headers(response)
    assert password not in body  # the password is never echoed; the e-mail is, to fix a typo
    assert client.get(PAGE).status_code == 303


def test_lockout_after_three_failures_answers_429_with_retry_after_and_audits(client, people, users, clock):
    for _ in range(2):
        assert sign_in(client, "acme", "ana@acme.example", "wrong password!").status_code == 401
    locked = sign_in(client, "acme", "ana@acme.example", "wrong password!")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "600"
    assert "Vuelva a intentarlo en 10 minutos" in locked.get_data(as_text=True)
    again = sign_in(client, "acme", "ana@acme.example")  # the right password, while locked
    assert again.status_code == 429 and SECURE_COOKIE not in set_cookie_headers(again)
    entry = users.audit_entries("acme")[0]
    assert (entry.action, entry.user_id, entry.at) == ("user.locked", people["acme_admin"].id, clock.now)
    clock.advance(seconds=600)
    assert sign_in(client, "acme", "ana@acme.example").status_code == 303


def test_every_sign_in_issues_a_new_token(app, people):
    first, second = app.test_client(), app.test_client()
    a = set_cookie_headers(sign_in(first, "acme", "ana@acme.example"))[SECURE_COOKIE]
    b = set_cookie_headers(sign_in(second, "acme", "ana@acme.example"))[SECURE_COOKIE]
    assert a.split(";")[0] != b.split(";")[0]


def test_a_planted_session_cookie_is_worthless(client, people):
    client.set_cookie(SECURE_COOKIE, "attacker-chosen-token")
    assert client.get(PAGE).status_code == 303
    response = sign_in(client, "acme", "ana@acme.example")
    assert "attacker-chosen-token" not in set_cookie_headers(response)[SECURE_COOKIE]


def test_sign_out_ends_the_session_server_side(client, people):
    sign_in(client, "acme", "ana@acme.example")
    stolen = client.get_cookie(SECURE_COOKIE).value
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get_cookie(SECURE_COOKIE) is None
    client.set_cookie(SECURE_COOKIE, stolen)  # a copy of the cookie kept from before
    assert client.get(PAGE).status_code == 303


def test_the_page_and_root_send_a_visitor_to_sign_in(client):
    assert client.get(PAGE).headers["Location"] == "/login"
    assert client.get("/").headers["Location"] == "/login"


def test_a_signed_in_user_is_sent_from_login_to_the_page(client, people):
    sign_in(client, "acme", "ana@acme.example")
    assert client.get("/login").headers["Location"] == PAGE
    assert client.get("/").headers["Location"] == PAGE


def test_probes_need_no_session(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_the_login_form_is_accessible(client):
    body = client.get("/login").get_data(as_text=True)
    for field in ("tenant", "email", "password"):
        assert f'<label for="{field}">' in body and f'id="{field}"' in body
    assert 'autocomplete="current-password"' in body and '<html lang="es">' in body
    assert 'href="#main"' in body and 'id="main"' in body


def test_sign_ins_are_counted_by_result(client, people):
    from prometheus_client import REGISTRY

    def count(result: str) -> float:
        return REGISTRY.get_sample_value("autentikapp_dashboard_sign_ins_total",
                                         {"method": "password", "result": result}) or 0.0

    before = {result: count(result) for result in ("ok", "refused")}
    sign_in(client, "acme", "ana@acme.example", "not the password")
    sign_in(client, "acme", "ana@acme.example")
    assert (count("refused") - before["refused"], count("ok") - before["ok"]) == (1, 1)
