"""Configuración > Usuarios over HTTP: admins only, adding someone (who can then sign in), refusals that
create nothing, disabling someone (their session ends at once, nobody disables themselves), the audit
log, CSRF, and another tenant's users out of reach."""

from __future__ import annotations

import re

import pytest
from dashboard_support import session_token, sign_in

USERS = "/configuracion/usuarios"
WEBHOOKS = "/configuracion/integraciones/webhooks"
NEW_PASSWORD = "a long first password"


def text(response) -> str:
    return response.get_data(as_text=True)


def rows(body: str) -> list[str]:
    return re.findall(r'<tr data-user-id="(\d+)">', body)


def create(client, email: str, password: str = NEW_PASSWORD, role: str = "viewer", **extra):
    return client.post(USERS, data={"csrf_token": session_token(client), "email": email, "password": password,
                                    "role": role, **extra})


def disable(client, user_id: int, *, token: str | None = None):
    return client.post(f"{USERS}/{user_id}/desactivar",
                       data={"csrf_token": session_token(client) if token is None else token})


def emails(users, tenant: str = "acme") -> list[str]:
    return [u.email for u in users.list_users(tenant)]


def test_an_admin_sees_the_tenants_users_only(admin, people):
    response = admin.get(USERS)
    body = text(response)
    assert response.status_code == 200 and "<h1>Usuarios</h1>" in body
    assert rows(body) == [str(people["acme_admin"].id), str(people["acme_viewer"].id)]
    assert "victor@acme.example" in body and "lector" in body and "administrador" in body
    assert "gina@globex.example" not in body


def test_a_viewer_gets_403_and_no_link_to_the_page(viewer, admin):
    response = viewer.get(USERS)
    assert response.status_code == 403 and "Su rol no permite esta acción." in text(response)
    assert f'href="{USERS}"' not in text(viewer.get(WEBHOOKS))
    assert f'href="{USERS}"' in text(admin.get(WEBHOOKS))


def test_a_viewer_cannot_add_or_disable_anyone(viewer, users, people):
    assert create(viewer, "eve@acme.example").status_code == 403
    assert disable(viewer, people["acme_admin"].id).status_code == 403
    assert emails(users) == ["ana@acme.example", "victor@acme.example"]
    assert users.get_user("acme", people["acme_admin"].id).active


def test_an_admin_adds_a_user_who_can_then_sign_in(app, admin, users, people):
    response = create(admin, " Eve@ACME.example ", role="admin")
    assert response.status_code == 303 and response.headers["Location"] == f"{USERS}?hecho=created"
    body = text(admin.get(response.headers["Location"]))
    assert 'role="status">Usuario creado.' in body and "eve@acme.example" in body
    (eve,) = [u for u in users.list_users("acme") if u.email == "eve@acme.example"]
    assert (eve.role, eve.active) == ("admin", True)
    entry = users.audit_entries("acme")[0]
    assert (entry.action, entry.target, entry.user_id, entry.details) == (
        "user.created", f"user:{eve.id}", people["acme_admin"].id, {"email": "eve@acme.example", "role": "admin"})
    assert NEW_PASSWORD not in repr(users.audit_entries("acme"))

    newcomer = app.test_client()
    signed = sign_in(newcomer, "acme", "eve@acme.example", NEW_PASSWORD)
    assert signed.status_code == 303 and signed.headers["Location"] == WEBHOOKS
    assert "eve@acme.example" in text(newcomer.get(WEBHOOKS))


def test_the_new_user_is_in_the_admins_tenant_whatever_the_form_says(admin, users):
    create(admin, "eve@acme.example", tenant="globex", tenant_id="globex")
    assert "eve@acme.example" in emails(users, "acme") and "eve@acme.example" not in emails(users, "globex")


@pytest.mark.parametrize("email, password, role, message", [
    ("victor@acme.example", NEW_PASSWORD, "viewer", "Ya hay una cuenta con ese correo en su marca."),
    ("VICTOR@acme.example", NEW_PASSWORD, "admin", "Ya hay una cuenta con ese correo en su marca."),
    ("eve@acme.example", "too short", "viewer", "entre 12 y 1024 caracteres"),
    ("eve@acme.example", "eve@acme.example", "viewer", "no puede ser el correo"),
    ("not-an-address", NEW_PASSWORD, "viewer", "Escriba un correo electrónico válido."),
    ("eve@acme.example", NEW_PASSWORD, "owner", "Elija uno de los roles de la lista."),
])
def test_a_refused_user_shows_the_error_and_creates_nothing(admin, users, email, password, role, message):
    before = users.audit_entries("acme")
    response = create(admin, email, password, role)
    body = text(response)
    assert response.status_code == 422
    error = re.search(r'<p class="error" role="alert" id="user-error">([^<]*)</p>', body)
    assert error and message in error.group(1).replace("&#39;", "'")
    assert password not in body or password == email  # the typed password is never sent back
    assert 'name="email" value="' + email.strip() in body  # the e-mail is kept to correct it
    assert emails(users) == ["ana@acme.example", "victor@acme.example"]
    assert users.audit_entries("acme") == before


def test_disabling_a_user_ends_their_session_at_once(admin, viewer, users, people):
    victor = people["acme_viewer"]
    assert viewer.get(WEBHOOKS).status_code == 200
    response = disable(admin, victor.id)
    assert response.status_code == 303 and response.headers["Location"] == f"{USERS}?hecho=disabled"
    body = text(admin.get(response.headers["Location"]))
    assert 'role="status">Usuario desactivado.' in body
    assert not users.get_user("acme", victor.id).active
    row = body[body.index(f'data-user-id="{victor.id}"'):]
    assert "Desactivado" in row[:row.index("</tr>")] and "desactivar" not in row[:row.index("</tr>")]

    after = viewer.get(WEBHOOKS)
    assert after.status_code == 303 and after.headers["Location"] == "/login"
    assert sign_in(viewer, "acme", victor.email).status_code == 401
    entry = users.audit_entries("acme")[0]
    assert (entry.action, entry.target, entry.user_id) == ("user.disabled", f"user:{victor.id}",
                                                           people["acme_admin"].id)


def test_nobody_disables_themselves(admin, users, people):
    ana = people["acme_admin"]
    body = text(admin.get(USERS))
    assert f"{USERS}/{ana.id}/desactivar" not in body and f"{USERS}/{people['acme_viewer'].id}/desactivar" in body
    response = disable(admin, ana.id)
    assert response.status_code == 409 and "No puede desactivar su propia cuenta." in text(response)
    assert users.get_user("acme", ana.id).active
    assert admin.get(USERS).status_code == 200  # still signed in


def test_another_tenants_user_is_not_found(admin, users, people):
    gina = people["globex_admin"]
    response = disable(admin, gina.id)
    assert response.status_code == 404 and "Página no encontrada" in text(response)
    assert users.get_user("globex", gina.id).active
    assert all(e.action != "user.disabled" for e in users.audit_entries("globex"))


def test_an_unknown_user_id_is_not_found(admin):
    assert disable(admin, 999_999).status_code == 404


def test_the_audit_log_is_shown_newest_first(admin, users, people):
    create(admin, "eve@acme.example")
    disable(admin, people["acme_viewer"].id)
    body = text(admin.get(USERS))
    section = body[body.index('id="audit-heading"'):]
    logged = re.findall(r'<td>([^<]*)</td><td class="mono">([a-z_.]+)</td><td class="mono">([^<]*)</td>', section)
    eve = next(u for u in users.list_users("acme") if u.email == "eve@acme.example")
    actor = f"user:{people['acme_admin'].id} ana@acme.example"
    assert logged[:3] == [(actor, "user.disabled", f"user:{people['acme_viewer'].id}"),
                          (actor, "user.created", f"user:{eve.id}"),
                          (actor, "user.signed_in", f"user:{people['acme_admin'].id}")]
    assert ("cli:test", "user.created", f"user:{people['acme_viewer'].id}") in logged
    assert "gina@globex.example" not in section


@pytest.mark.parametrize("token", ["", "forged"])
def test_changes_need_the_csrf_token(admin, users, people, token):
    created = admin.post(USERS, data={"csrf_token": token, "email": "eve@acme.example", "password": NEW_PASSWORD,
                                      "role": "admin"})
    disabled = disable(admin, people["acme_viewer"].id, token=token)
    assert created.status_code == disabled.status_code == 403
    assert "El formulario ha caducado" in text(created)
    assert emails(users) == ["ana@acme.example", "victor@acme.example"]
    assert users.get_user("acme", people["acme_viewer"].id).active


def test_the_page_in_english(admin):
    body = text(admin.get(USERS + "?lang=en"))
    assert "<h1>Users</h1>" in body and "Add a user" in body and "Change log" in body
    assert "Disable victor@acme.example" in body

