"""Recent events, one event's page and "send a test sale" over HTTP: outcomes in both languages, filters,
pagination, tenant isolation (another tenant's event looks exactly like one not processed yet), and the
test sale's role, CSRF, audit and refusal."""

from __future__ import annotations

import html
import re

import pytest
from dashboard_support import session_token

from dashboard.gateway_api import TestSale

BASE = "/configuracion/integraciones/webhooks"
EVENTS = BASE + "/eventos"
TEST_SALE = BASE + "/venta-de-prueba"
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">([^<]+)</a>')


@pytest.fixture
def sales(outcomes):
    """acme: three events (the newest first on the page); globex: one of its own."""
    outcomes.add("acme", "evt_a1", "T-1", [("c1", "assigned"), ("c2", "conflict")])
    outcomes.add("acme", "evt_a2", "T-2", [("c3", "unknown_code")], status="dead_lettered")
    outcomes.add("acme", "evt_a3", "T-3", [("c4", "already_assigned")])
    outcomes.add("globex", "evt_g1", "G-SECRET-1", [("g1", "assigned")])
    return outcomes


def text(response) -> str:
    return response.get_data(as_text=True)


def listed(response) -> list[str]:
    """The event ids of the rows on an events page, in order."""
    return re.findall(r'<tr data-event-id="([^"]+)">', text(response))


# -- the list ---------------------------------------------------------------------------------------------


def test_rows_show_transaction_status_and_each_line_items_outcome_in_spanish(admin, sales):
    sales.page_size = 10
    response = admin.get(EVENTS)
    body = text(response)
    assert response.status_code == 200 and listed(response) == ["evt_a3", "evt_a2", "evt_a1"]
    row = body[body.index('data-event-id="evt_a1"'):]
    row = row[:row.index("</tr>")]
    assert f'href="{EVENTS}/evt_a1"' in row and ">T-1</a>" in row and "Procesado" in row
    assert re.search(r'data-outcome="assigned">.*?>asignado</span>', row, re.DOTALL)
    assert re.search(r'data-outcome="conflict">.*?>conflicto: pertenece a otro comprador</span>', row, re.DOTALL)
    assert "Fallido" in body and "código desconocido" in body and "ya asignado a este comprador" in body


def test_rows_in_english_on_request(admin, sales):
    sales.page_size = 10
    body = text(admin.get(EVENTS + "?lang=en"))
    assert '<html lang="en">' in body and "Recent events" in body
    assert "Processed" in body and "Failed" in body
    for outcome in ("assigned", "conflict: belongs to another buyer", "unknown code", "already assigned to this buyer"):
        assert f">{outcome}</span>" in body
    assert "asignado" not in body


def test_no_events_says_so(admin, outcomes):
    assert "No hay eventos que mostrar." in text(admin.get(EVENTS))


@pytest.mark.parametrize("query, expected", [
    ("estado=dead_lettered", ["evt_a2"]),
    ("estado=processed", ["evt_a3", "evt_a1"]),
    ("resultado=conflict", ["evt_a1"]),
    ("resultado=already_assigned", ["evt_a3"]),
    ("transaccion=T-2", ["evt_a2"]),
    ("transaccion=+T-1+", ["evt_a1"]),  # trimmed
    ("estado=processed&resultado=conflict", ["evt_a1"]),
    ("estado=dead_lettered&resultado=conflict", []),
])
def test_filters_narrow_the_list(admin, sales, query, expected):
    sales.page_size = 10
    response = admin.get(f"{EVENTS}?{query}")
    assert response.status_code == 200 and listed(response) == expected


def test_the_chosen_filters_stay_selected(admin, sales):
    body = text(admin.get(f"{EVENTS}?estado=dead_lettered&resultado=conflict&transaccion=T-9"))
    assert '<option value="dead_lettered" selected>' in body
    assert '<option value="conflict" selected>' in body
    assert 'name="transaccion" value="T-9"' in body


@pytest.mark.parametrize("query", ["estado=lost", "resultado=stolen", "estado=%3Cscript%3E&resultado=DROP"])
def test_an_unknown_filter_value_is_ignored(admin, sales, query):
    sales.page_size = 10
    response = admin.get(f"{EVENTS}?{query}")
    body = text(response)
    assert response.status_code == 200 and listed(response) == ["evt_a3", "evt_a2", "evt_a1"]
    assert " selected>" not in body  # shown as "Cualquiera"
    assert "<script>" not in body


def test_pagination_follows_the_next_token_keeping_the_filters(admin, sales):
    first = admin.get(EVENTS)
    assert listed(first) == ["evt_a3", "evt_a2"]  # the fake's pages hold two
    href, label = NEXT_LINK.search(text(first)).groups()
    assert label == "Página siguiente" and "Primera página" not in text(first)
    second = admin.get(html.unescape(href))
    assert second.status_code == 200 and listed(second) == ["evt_a1"]
    assert not NEXT_LINK.search(text(second)) and "Primera página" in text(second)

    filtered = admin.get(f"{EVENTS}?estado=processed&resultado=already_assigned")
    assert not NEXT_LINK.search(text(filtered))
    sales.page_size = 1
    href, _ = NEXT_LINK.search(text(admin.get(f"{EVENTS}?estado=processed"))).groups()
    assert "estado=processed" in html.unescape(href)
    assert listed(admin.get(html.unescape(href))) == ["evt_a1"]


def test_a_bad_page_token_is_a_400_error_page(admin, sales):
    response = admin.get(EVENTS + "?pagina=xyz")
    body = text(response)
    assert response.status_code == 400
    assert "Solicitud no válida" in body and 'role="alert"' in body
    assert "data-event-id" not in body


def test_another_tenants_events_never_appear(admin, client_for, sales):
    sales.page_size = 10
    body = text(admin.get(EVENTS))
    assert "evt_g1" not in body and "G-SECRET-1" not in body
    assert listed(admin.get(EVENTS + "?transaccion=G-SECRET-1")) == []
    assert listed(admin.get(EVENTS + "?tenant=globex&tenant_id=globex")) == ["evt_a3", "evt_a2", "evt_a1"]
    assert listed(client_for("globex_admin").get(EVENTS)) == ["evt_g1"]


def test_a_viewer_reads_the_events_too(viewer, sales):
    response = viewer.get(EVENTS)
    assert response.status_code == 200 and listed(response) == ["evt_a3", "evt_a2"]


# -- one event ------------------------------------------------------------------------------------------


def test_the_event_page_shows_the_outcome(admin, sales):
    response = admin.get(f"{EVENTS}/evt_a1")
    body = text(response)
    assert response.status_code == 200
    assert '<span class="mono" id="event-id">evt_a1</span>' in body
    assert 'data-status="processed">Procesado' in body and ">T-1</dd>" in body
    assert ">asignado</span>" in body and ">conflicto: pertenece a otro comprador</span>" in body
    assert 'http-equiv="refresh"' not in body
    english = text(admin.get(f"{EVENTS}/evt_a2?lang=en"))
    assert 'data-status="dead_lettered">Failed' in english and ">unknown code</span>" in english


def pending_page(body: str, event_id: str) -> str:
    """A pending page without what differs between two answers: the id asked for (shown, and in the
    language links' path)."""
    return body.replace(event_id, "EVENT_ID")


def test_an_unknown_or_another_tenants_event_is_the_same_pending_page(admin, sales):
    unknown = admin.get(f"{EVENTS}/evt_nope")
    foreign = admin.get(f"{EVENTS}/evt_g1")
    for response in (unknown, foreign):
        body = text(response)
        assert response.status_code == 200
        assert '<meta http-equiv="refresh" content="2">' in body
        assert 'data-status="pending"' in body and "esta página se actualiza sola" in body
    assert "G-SECRET-1" not in text(foreign) and ">asignado<" not in text(foreign)
    assert pending_page(text(unknown), "evt_nope") == pending_page(text(foreign), "evt_g1")


def test_an_over_long_event_id_is_cut_not_echoed_whole(admin, sales):
    body = text(admin.get(f"{EVENTS}/{'x' * 500}"))
    assert f'<span class="mono" id="event-id">{"x" * 64}</span>' in body


# -- send a test sale ---------------------------------------------------------------------------------------


def test_a_test_sale_lands_on_its_events_page_showing_the_outcome_and_is_audited(admin, gateway, users, people):
    response = admin.post(TEST_SALE, data={"csrf_token": session_token(admin)})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{EVENTS}/evt_test1"
    assert gateway.test_sales == ["evt_test1"]
    body = text(admin.get(response.headers["Location"]))
    assert 'data-status="processed"' in body and ">asignado</span>" in body and "PRUEBA-1" in body
    entry = users.audit_entries("acme")[0]
    assert (entry.action, entry.target, entry.user_id, entry.details) == (
        "test_sale.sent", "event:evt_test1", people["acme_admin"].id,
        {"transaction_id": "PRUEBA-1", "http_status": 202})


def test_until_processed_the_test_sales_page_waits_and_refreshes(admin, gateway):
    gateway.outcomes = None  # the processor has not recorded it yet
    response = admin.post(TEST_SALE, data={"csrf_token": session_token(admin)})
    body = text(admin.get(response.headers["Location"]))
    assert 'data-status="pending"' in body and '<meta http-equiv="refresh"' in body


def test_a_viewer_cannot_send_a_test_sale(viewer, gateway, users):
    response = viewer.post(TEST_SALE, data={"csrf_token": session_token(viewer)})
    assert response.status_code == 403 and "Su rol no permite esta acción." in text(response)
    assert gateway.test_sales == []
    assert all(e.action != "test_sale.sent" for e in users.audit_entries("acme"))


@pytest.mark.parametrize("form", [{}, {"csrf_token": "forged"}])
def test_a_test_sale_needs_the_csrf_token(admin, gateway, users, form):
    response = admin.post(TEST_SALE, data=form)
    assert response.status_code == 403 and "El formulario ha caducado" in text(response)
    assert gateway.test_sales == []
    assert all(e.action != "test_sale.sent" for e in users.audit_entries("acme"))


def test_a_refused_test_sale_shows_the_gateways_answer(admin, gateway, users):
    gateway.send_test_sale = lambda tenant_id: TestSale(401, "PRUEBA-9", "", "signature_invalid",
                                                        "no active secret verifies the signature")
    response = admin.post(TEST_SALE, data={"csrf_token": session_token(admin)})
    body = text(response)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "El gateway rechazó la venta de prueba (HTTP 401)." in body and 'role="alert"' in body
    assert "signature_invalid" in body and "no active secret verifies the signature" in body
    entry = users.audit_entries("acme")[0]
    assert (entry.action, entry.target, entry.details) == (
        "test_sale.sent", "", {"transaction_id": "PRUEBA-9", "http_status": 401})
    english = admin.post(TEST_SALE + "?lang=en", data={"csrf_token": session_token(admin)})
    assert "The gateway refused the test sale (HTTP 401)." in text(english)
