"""Solicitudes rechazadas and Eventos fallidos over HTTP: what each shows, and the replay of a dead letter
(admins only, CSRF, audited, another tenant's sequence not found)."""

from __future__ import annotations

import re

import pytest
from dashboard_support import dead_letter, refused_request, session_token

BASE = "/configuracion/integraciones/webhooks"
REFUSED = BASE + "/rechazadas"
DEAD = BASE + "/fallidos"


@pytest.fixture
def refused(gateway):
    gateway.refused["acme"] = [
        refused_request(),
        refused_request(http_status=401, code="signature_invalid", reason="no active secret verifies the signature",
                        fields=()),
        refused_request(code="invalid_field", reason="two fields are wrong",
                        fields=("customer.email", "line_items[1].quantity")),
    ]
    gateway.refused["globex"] = [refused_request(code="globex_only_code", reason="GLOBEX-REASON")]
    return gateway


@pytest.fixture
def dead(gateway):
    gateway.dead["acme"] = [dead_letter(7, "evt_d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7", "T-7"), dead_letter(8, "evt_d8", "", replays=2)]
    gateway.dead["globex"] = [dead_letter(9, "evt_g9", "GLOBEX-T-9")]
    return gateway


def text(response) -> str:
    return response.get_data(as_text=True)


def replay(client, sequence: int, *, token: str | None = None):
    data = {"csrf_token": token if token is not None else session_token(client)}
    return client.post(f"{DEAD}/{sequence}/reintentar", data=data)


# -- refused requests -------------------------------------------------------------------------------------


def test_refused_requests_show_reason_status_code_and_field_paths(admin, refused):
    response = admin.get(REFUSED)
    body = text(response)
    assert response.status_code == 200
    assert re.findall(r'<tr data-code="([^"]+)">', body) == ["invalid_payload", "signature_invalid", "invalid_field"]
    assert '422 <span class="mono">invalid_payload</span>' in body
    assert '401 <span class="mono">signature_invalid</span>' in body
    assert "a line item has no code" in body and "no active secret verifies the signature" in body
    assert '<span class="mono">line_items[0].code</span>' in body
    assert '<span class="mono">customer.email</span>, <span class="mono">line_items[1].quantity</span>' in body
    assert "203.0.113.9" in body


def test_refused_requests_never_show_another_tenants(admin, client_for, refused):
    body = text(admin.get(REFUSED))
    assert "globex_only_code" not in body and "GLOBEX-REASON" not in body
    assert "GLOBEX-REASON" in text(client_for("globex_admin").get(REFUSED))


def test_no_refused_requests_says_so_and_a_viewer_reads_them(viewer, gateway):
    response = viewer.get(REFUSED + "?lang=en")
    assert response.status_code == 200 and "No recent refused requests." in text(response)


# -- dead letters -----------------------------------------------------------------------------------------


def test_dead_letters_are_listed_with_a_replay_button_for_admins(admin, dead):
    body = text(admin.get(DEAD))
    assert re.findall(r'data-sequence="(\d+)"', body) == ["7", "8"]
    assert "customer service unavailable" in body and "T-7" in body
    assert "reintentado 2 veces" in body
    assert f'action="{DEAD}/7/reintentar"' in body and ">Reintentar T-7</button>" in body
    assert f'action="{DEAD}/8/reintentar"' in body and ">Reintentar evt_d8</button>" in body  # no transaction id
    assert "GLOBEX-T-9" not in body and "evt_g9" not in body


def test_a_viewer_sees_the_dead_letters_without_replay_buttons(viewer, dead):
    body = text(viewer.get(DEAD))
    assert re.findall(r'data-sequence="(\d+)"', body) == ["7", "8"]
    assert "/reintentar" not in body and "Reintentar" not in body


def test_no_dead_letters_says_so(admin, gateway):
    assert "No hay eventos fallidos." in text(admin.get(DEAD))


def test_an_admin_replays_a_dead_letter_audited_and_sees_the_notice(admin, dead, users, people):
    response = replay(admin, 7)
    assert response.status_code == 303 and response.headers["Location"] == f"{DEAD}?reintentado=evt_d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7"
    assert dead.replayed == [("acme", 7)]
    body = text(admin.get(response.headers["Location"]))
    assert 'role="status">Evento evt_d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7 enviado de nuevo a procesar.' in body
    assert re.findall(r'data-sequence="(\d+)"', body) == ["8"]
    entry = users.audit_entries("acme")[0]
    assert (entry.action, entry.target, entry.details, entry.user_id) == (
        "dead_letter.replayed", "event:evt_d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7", {"sequence": 7}, people["acme_admin"].id)


def test_a_viewer_cannot_replay(viewer, dead, users):
    response = replay(viewer, 7)
    assert response.status_code == 403 and "Su rol no permite esta acción." in text(response)
    assert dead.replayed == [] and len(dead.dead["acme"]) == 2
    assert all(e.action != "dead_letter.replayed" for e in users.audit_entries("acme"))


def test_another_tenants_sequence_is_not_found_and_replays_nothing(admin, dead, users):
    response = replay(admin, 9)
    assert response.status_code == 404 and "Página no encontrada" in text(response)
    assert dead.replayed == [] and len(dead.dead["globex"]) == 1
    assert all(e.action != "dead_letter.replayed" for e in users.audit_entries("acme"))
    assert all(e.action != "dead_letter.replayed" for e in users.audit_entries("globex"))


@pytest.mark.parametrize("token", ["", "forged"])
def test_a_replay_needs_the_csrf_token(admin, dead, token):
    response = replay(admin, 7, token=token)
    assert response.status_code == 403 and "El formulario ha caducado" in text(response)
    assert dead.replayed == []


def test_a_replay_is_a_post(admin, dead):
    assert admin.get(f"{DEAD}/7/reintentar").status_code == 405
    assert dead.replayed == []


def test_the_replay_notice_cannot_be_worded_through_a_link(admin):
    body = admin.get(f"{DEAD}?reintentado=your+account+is+closed").get_data(as_text=True)
    assert "your account is closed" not in body and 'role="status">Evento' not in body
