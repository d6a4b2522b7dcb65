"""The section navigation on every page (the current one marked aria-current="page", Usuarios for admins
only), and that every page needs a session."""

from __future__ import annotations

import pytest
from dashboard_support import section_links, session_token

BASE = "/configuracion/integraciones/webhooks"
WEBHOOKS, EVENTS, REFUSED, DEAD, USERS = BASE, BASE + "/eventos", BASE + "/rechazadas", BASE + "/fallidos", \
    "/configuracion/usuarios"
SECTIONS = [WEBHOOKS, EVENTS, REFUSED, DEAD, USERS]
EVERY_PAGE = [*SECTIONS, EVENTS + "/evt_1", EVENTS + "?estado=processed"]


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize("page", SECTIONS)
def test_the_section_nav_marks_the_current_page_only(client_for, page):
    response = client_for("acme_admin").get(page)
    assert response.status_code == 200
    links = section_links(text(response))
    assert [href for href, _ in links] == SECTIONS
    assert [href for href, current in links if current] == [page]


@pytest.mark.parametrize("page", SECTIONS[:4])
def test_a_viewers_nav_has_no_users_link_and_marks_the_current_page(client_for, page):
    links = section_links(text(client_for("acme_viewer").get(page)))
    assert [href for href, _ in links] == SECTIONS[:4]
    assert [href for href, current in links if current] == [page]


def test_the_current_page_is_marked_with_a_filter_or_another_language(client_for):
    admin = client_for("acme_admin")
    for query in ("?estado=processed", "?lang=en", "?pagina=0"):
        links = section_links(text(admin.get(EVENTS + query)))
        assert [href for href, current in links if current] == [EVENTS], query


def test_the_users_page_stays_marked_when_a_refused_form_is_shown_again(client_for):
    admin = client_for("acme_admin")
    refused = admin.post(USERS, data={"csrf_token": session_token(admin), "email": "eve@acme.example",
                                      "password": "short", "role": "viewer"})
    assert refused.status_code == 422
    assert [href for href, current in section_links(text(refused)) if current] == [USERS]


def test_the_webhooks_page_stays_marked_when_it_shows_a_new_secret(client_for):
    admin = client_for("acme_admin")
    created = admin.post(WEBHOOKS + "/secrets", data={"csrf_token": session_token(admin)})
    assert created.status_code == 201
    assert [href for href, current in section_links(text(created)) if current] == [WEBHOOKS]


def test_one_events_page_is_not_a_section_and_claims_none(client_for):
    links = section_links(text(client_for("acme_admin").get(EVENTS + "/evt_1")))
    assert [href for href, _ in links] == SECTIONS and not any(current for _, current in links)


def test_the_nav_is_labelled(client_for):
    body = text(client_for("acme_admin").get(WEBHOOKS))
    assert '<nav class="sections" aria-label="Secciones">' in body
    assert '<nav class="sections" aria-label="Sections">' in text(client_for("acme_admin").get(WEBHOOKS + "?lang=en"))


@pytest.mark.parametrize("page", EVERY_PAGE)
def test_every_page_sends_a_visitor_without_a_session_to_sign_in(client, people, page):
    response = client.get(page)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "csrf_token" not in text(response)


@pytest.mark.parametrize("page", EVERY_PAGE)
def test_a_signed_out_users_old_cookie_opens_no_page(client_for, page):
    client = client_for("acme_admin")
    client.post("/logout", data={"csrf_token": session_token(client)})
    response = client.get(page)
    assert response.status_code == 303 and response.headers["Location"] == "/login"


@pytest.mark.parametrize("action", [BASE + "/venta-de-prueba", DEAD + "/7/reintentar", USERS,
                                    USERS + "/1/desactivar", BASE + "/secrets", BASE + "/secrets/1/revoke"])
def test_every_action_without_a_session_is_refused_and_does_nothing(client, people, gateway, users, action):
    response = client.post(action, data={"csrf_token": "x", "email": "eve@acme.example",
                                         "password": "a long first password", "role": "admin"})
    assert response.status_code == 403
    assert gateway.test_sales == [] and gateway.replayed == [] and len(gateway.list_secrets("acme")) == 1
    assert [u.email for u in users.list_users("acme")] == ["ana@acme.example", "victor@acme.example"]
    assert all(u.active for u in users.list_users("acme"))


def test_the_login_page_has_no_section_nav(client):
    assert section_links(text(client.get("/login"))) == []
