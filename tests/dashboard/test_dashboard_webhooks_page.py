"""Configuración > Integraciones > Webhooks over HTTP: what the page shows, secrets created (shown once),
rotated and revoked by an admin, a viewer's read-only view, tenant isolation, languages and headers."""

from __future__ import annotations

import dataclasses
import re

import pytest
from dashboard_support import session_token, sign_in

PAGE = "/configuracion/integraciones/webhooks"
SECRETS = PAGE + "/secrets"


@pytest.fixture
def admin(client, people):
    sign_in(client, "acme", "ana@acme.example")
    return client


@pytest.fixture
def viewer(app, people):
    client = app.test_client()
    sign_in(client, "acme", "victor@acme.example")
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def script_nonce(response) -> str:
    return re.search(r"script-src 'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)


def secret_rows(html: str) -> list[str]:
    return re.findall(r'data-secret-id="(\d+)"', html)


def test_the_page_shows_the_endpoint_in_a_read_only_field_with_a_copy_button(admin):
    body = text(admin.get(PAGE))
    assert re.search(r'<input id="endpoint-url" type="url" readonly value="https://webhooks.example.test/v1/webhooks/'
                     r'inbound/acme"', body)
    assert '<label for="endpoint-url"' in body
    assert 'data-copy="endpoint-url" hidden' in body  # shown by the script; without it the hint says how
    assert "Seleccione la dirección y cópiela" in body


def test_the_copy_script_runs_under_the_pages_csp_nonce(admin):
    response = admin.get(PAGE)
    nonce = script_nonce(response)
    assert f'<script nonce="{nonce}">' in text(response)
    assert nonce != script_nonce(admin.get(PAGE))  # a fresh one on every answer


def test_a_tenant_that_accepts_both_schemes_lists_both(admin):
    body = text(admin.get(PAGE))
    assert re.findall(r'data-scheme="([^"]+)"', body) == ["standard-webhooks", "autentikapp"]


def test_a_tenant_that_requires_timestamps_lists_standard_webhooks_only(app, people):
    client = app.test_client()
    sign_in(client, "globex", "gina@globex.example")
    body = text(client.get(PAGE))
    assert re.findall(r'data-scheme="([^"]+)"', body) == ["standard-webhooks"]
    assert "la firma de la guía se rechaza" in body
    assert "/v1/webhooks/inbound/globex" in body


def test_store_platforms_with_an_active_secret_are_listed(app, gateway, people):
    gateway.add_tenant("initech", "Initech", platforms=("shopify",))
    from dashboard.audit import Actor

    app.extensions["dashboard"].users.create_user("initech", "ian@initech.example", "correct horse battery",
                                                  "viewer", Actor.cli("test"))
    client = app.test_client()
    sign_in(client, "initech", "ian@initech.example")
    body = text(client.get(PAGE))
    assert re.findall(r'data-scheme="([^"]+)"', body) == ["standard-webhooks", "autentikapp", "shopify"]
    assert len(secret_rows(body)) == 1  # the platform's secret is not a whsec_ one


def test_create_shows_the_new_secret_once_and_audits_without_it(admin, gateway, users, people):
    response = admin.post(SECRETS, data={"csrf_token": session_token(admin)})
    body = text(response)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    (new_id,) = [s.id for s in gateway.list_secrets("acme")][1:]
    value = gateway.values[new_id]
    assert f'value="{value}"' in body and "no se volverá a mostrar" in body
    assert secret_rows(body) == ["1", str(new_id)]  # rotation: both active
    assert value not in text(admin.get(PAGE))
    entry = users.audit_entries("acme")[0]
    assert (entry.action, entry.target, entry.details, entry.user_id) == (
        "secret.created", f"secret:{new_id}", {"secret_id": new_id}, people["acme_admin"].id)
    assert value not in repr(users.audit_entries("acme"))


def test_rotation_create_then_revoke_the_old_one(admin, gateway, users):
    admin.post(SECRETS, data={"csrf_token": session_token(admin)})
    old, new = gateway.list_secrets("acme")
    response = admin.post(f"{SECRETS}/{old.id}/revoke", data={"csrf_token": session_token(admin)})
    assert response.status_code == 303 and response.headers["Location"] == f"{PAGE}?revoked={old.id}"
    body = text(admin.get(response.headers["Location"]))
    assert f"Clave {old.id} revocada" in body
    assert [s.active for s in gateway.list_secrets("acme")] == [False, True]
    assert (users.audit_entries("acme")[0].action, users.audit_entries("acme")[0].target) == (
        "secret.revoked", f"secret:{old.id}")
    assert f"{SECRETS}/{old.id}/revoke" not in body and f"{SECRETS}/{new.id}/revoke" in body


def test_revoked_notice_only_for_a_secret_really_revoked(admin):
    assert "revocada" not in text(admin.get(f"{PAGE}?revoked=1"))


def test_the_last_active_secret_cannot_be_revoked_here(admin, gateway, users):
    refused = admin.post(f"{SECRETS}/1/revoke", data={"csrf_token": session_token(admin)})
    assert refused.status_code == 409 and "La clave 1 es su única clave activa" in text(refused)
    assert [s.active for s in gateway.list_secrets("acme")] == [True]
    assert all(entry.action != "secret.revoked" for entry in users.audit_entries("acme"))


def test_a_tenant_with_no_active_secret_is_warned_and_cannot_send_a_test_sale(admin, gateway):
    gateway.secrets["acme"] = [dataclasses.replace(s, revoked_at=s.created_at) for s in gateway.secrets["acme"]]
    body = text(admin.get(PAGE))
    assert "no se acepta ningún webhook" in body
    assert re.search(r'<button type="submit" disabled>Enviar una venta de prueba</button>', body)


def test_a_viewer_reads_but_cannot_change_anything(viewer, gateway, users):
    body = text(viewer.get(PAGE))
    assert "solo lectura" in body and "/revoke" not in body and 'action="' + SECRETS + '"' not in body
    token = session_token(viewer)
    before = gateway.list_secrets("acme")
    create = viewer.post(SECRETS, data={"csrf_token": token})
    revoke = viewer.post(f"{SECRETS}/1/revoke", data={"csrf_token": token})
    assert create.status_code == revoke.status_code == 403
    assert "Su rol no permite esta acción." in text(create)
    assert gateway.list_secrets("acme") == before
    assert not [e for e in users.audit_entries("acme") if e.action.startswith("secret.")]


def test_an_admin_cannot_touch_another_tenants_secret(admin, gateway):
    """The tenant is the session's: a secret id of globex is not found for acme, and globex's is untouched."""
    (globex_secret,) = gateway.list_secrets("globex")
    response = admin.post(f"{SECRETS}/{globex_secret.id}/revoke", data={"csrf_token": session_token(admin)})
    assert response.status_code == 404
    assert gateway.list_secrets("globex")[0].active


def test_tenant_in_the_url_or_form_is_ignored(admin, gateway):
    body = text(admin.get(PAGE + "?tenant=globex&tenant_id=globex"))
    assert "/inbound/acme" in body and "globex" not in body
    admin.post(SECRETS, data={"csrf_token": session_token(admin), "tenant": "globex", "tenant_id": "globex"})
    assert len(gateway.list_secrets("acme")) == 2 and len(gateway.list_secrets("globex")) == 1


def test_each_user_sees_only_their_own_tenant(app, admin, people):
    other = app.test_client()
    sign_in(other, "globex", "gina@globex.example")
    acme, globex = text(admin.get(PAGE)), text(other.get(PAGE))
    assert "/inbound/acme" in acme and "globex" not in acme
    assert "/inbound/globex" in globex and "acme" not in globex


def test_spanish_by_default_english_on_request_and_remembered_in_the_session(admin):
    body = text(admin.get(PAGE))
    assert '<html lang="es">' in body and "URL del endpoint" in body
    english = text(admin.get(PAGE + "?lang=en"))
    assert '<html lang="en">' in english and "Endpoint URL" in english and "Signing secrets" in english
    assert '<html lang="en">' in text(admin.get(PAGE))  # remembered without ?lang
    assert '<html lang="es">' in text(admin.get(PAGE + "?lang=es"))


def test_the_browsers_language_is_used_until_one_is_chosen(client, people):
    assert '<html lang="en">' in text(client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert '<html lang="es">' in text(client.get("/login", headers={"Accept-Language": "es-CO"}))
    assert '<html lang="es">' in text(client.get("/login", headers={"Accept-Language": "fr"}))


def test_a_language_chosen_before_sign_in_carries_into_the_session(client, people):
    client.get("/login?lang=en")
    assert '<html lang="en">' in text(client.get("/login"))  # the lang cookie
    sign_in(client, "acme", "ana@acme.example")
    client.delete_cookie("lang")
    assert "Endpoint URL" in text(client.get(PAGE))


def test_security_headers_on_every_page(admin, client):
    for response in (admin.get(PAGE), client.get("/login")):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp


def test_the_gateway_unreachable_is_a_503_page_in_the_users_language(admin, gateway):
    from common.errors import Unavailable

    def down(*_args):
        raise Unavailable("connection refused")

    gateway.tenant_settings = down
    response = admin.get(PAGE + "?lang=en")
    assert response.status_code == 503 and "Service unavailable" in text(response)
    assert "connection refused" not in text(response)


def test_unknown_paths_are_a_404_page(client):
    response = client.get("/nope")
    assert response.status_code == 404 and "Página no encontrada" in text(response)
