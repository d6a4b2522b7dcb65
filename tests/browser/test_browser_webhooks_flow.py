"""Configuración > Integraciones > Webhooks in a real browser, against the whole system (gateway, gateway_admin,
processor, both services, NATS, Postgres, dashboard): what a brand's admin does there, and that it
really happens: the endpoint URL copied, a secret created and rotated (and the new one accepted by the
gateway), a test sale followed to its outcome, refused requests with their reasons, a dead letter
replayed. Each test signs in as a user of a tenant of its own (or of the session's dead letters)."""

from __future__ import annotations

import re

from browser_support import (
    CODE,
    DEAD_LETTERS_PATH,
    EVENTS_PATH,
    REFUSED_PATH,
    WEBHOOKS_PATH,
    event_path,
    reload_until,
    sale,
    sign_in,
)
from playwright.sync_api import Page, expect
from system_support import wait_for

PROCESSING_TIMEOUT_MS = 60_000  # a sale's way through the bus and both services, seen across the page's reloads

COPY = "Copiar"
COPIED = "URL copiada al portapapeles."
CREATE_SECRET = "Crear una clave nueva"
NEW_SECRET = "Su nueva clave secreta"
TEST_SALE = "Enviar una venta de prueba"
PROCESSED, FAILED = "Procesado", "Fallido"
ASSIGNED, ALREADY_ASSIGNED = "asignado", "ya asignado a este comprador"
NO_EVENTS = "No hay eventos que mostrar."


def revoke_button(page: Page, secret_id: int):
    return page.get_by_role("button", name=f"Revocar la clave {secret_id}", exact=True)


def secret_ids(page: Page) -> list[int]:
    """The ids of the secrets the page lists, newest first."""
    return [int(i) for i in page.locator("tr[data-secret-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.secretId)")]


def secret_status(page: Page, secret_id: int):
    return page.locator(f"tr[data-secret-id='{secret_id}'] td").nth(2)


def send_test_sale(page: Page) -> str:
    """Press "Enviar una venta de prueba" and follow the sale on its event page until it is processed;
    its event id."""
    page.get_by_role("button", name=TEST_SALE, exact=True).click()
    return expect_processed(page)


def expect_processed(page: Page, status: str = PROCESSED) -> str:
    """On an event's page, which reloads itself while the outcome is pending: wait for `status`."""
    expect(page).to_have_url(re.compile(re.escape(EVENTS_PATH) + r"/evt_[0-9a-f]{32}$"))
    expect(page.locator("#event-status")).to_have_text(status, timeout=PROCESSING_TIMEOUT_MS)
    return page.locator("#event-id").inner_text()


# 1. The endpoint URL -----------------------------------------------------------------------------------


def test_an_admin_copies_the_endpoint_url_with_the_copy_button(new_page, dashboard):
    account = dashboard.create_user()
    page = new_page(clipboard=True)
    sign_in(page, account)
    field = page.locator("#endpoint-url")
    expect(field).to_have_value(dashboard.endpoint_url(account.tenant))
    expect(page.locator("#copy-hint")).to_be_hidden()  # the keyboard hint gives way to the button

    page.get_by_role("button", name=COPY, exact=True).click()
    expect(page.locator("#copy-status")).to_have_text(COPIED)
    assert page.evaluate("navigator.clipboard.readText()") == field.input_value()


# 2. Secrets: create (shown once), rotate, the last one kept --------------------------------------------


def test_a_secret_is_shown_once_rotated_and_the_last_active_one_cannot_be_revoked(page, dashboard):
    tenant = dashboard.new_tenant()
    account = dashboard.create_user(tenant=tenant)
    sut = dashboard.sut
    sign_in(page, account)
    [old] = secret_ids(page)

    page.get_by_role("button", name=CREATE_SECRET, exact=True).click()
    expect(page.get_by_role("heading", name=NEW_SECRET)).to_be_visible()
    new_value = page.get_by_role("textbox", name=NEW_SECRET, exact=True).input_value()
    assert re.fullmatch(r"whsec_\S{20,}", new_value), new_value
    new = next(i for i in secret_ids(page) if i != old)
    for secret_id in (old, new):
        expect(secret_status(page, secret_id)).to_have_text("Activa")

    # The gateway accepts a sale signed with the new secret (its cache of secrets is refreshed in seconds).
    wait_for(lambda: sut.send(tenant.id, new_value, sale("FACT-NEW-SECRET"))[0] == 202, timeout=30, interval=0.5,
             what="a sale signed with the new secret accepted")

    page.goto(WEBHOOKS_PATH)  # shown once: not on the page any more
    expect(page.get_by_role("heading", name=NEW_SECRET)).to_have_count(0)
    assert new_value not in page.content()

    revoke_button(page, old).click()
    expect(page.get_by_text(f"Clave {old} revocada. El gateway deja de aceptarla en unos segundos.")).to_be_visible()
    expect(secret_status(page, old)).to_have_text(re.compile(r"^Revocada el \d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
    expect(revoke_button(page, old)).to_have_count(0)
    wait_for(lambda: sut.send(tenant.id, tenant.secret, sale("FACT-OLD-SECRET"))[0] == 401, timeout=30,
             interval=0.5, what="the revoked secret refused")

    with page.expect_navigation() as refused:
        revoke_button(page, new).click()  # the last active one: refused, with what to do instead
    assert refused.value.status == 409
    expect(page.locator("#secrets-error")).to_have_text(
        f"La clave {new} es su única clave activa: revocarla detendría todas sus ventas. Cree una nueva, "
        "configúrela en su sistema y revoque después esta.")
    page.goto(WEBHOOKS_PATH)
    expect(secret_status(page, new)).to_have_text("Activa")
    assert sut.send(tenant.id, new_value, sale("FACT-STILL-OK"))[0] == 202


# 3. A test sale, followed to its outcome; the events list and its filters --------------------------------


def test_a_test_sale_is_processed_and_listed_with_its_outcome(page, dashboard):
    account = dashboard.create_user(tenant=dashboard.new_tenant(codes=(CODE,)))
    sign_in(page, account)

    first = send_test_sale(page)  # pending first (the page reloads itself), then the outcome
    expect(page.locator(".items li[data-outcome]")).to_have_count(1)
    expect(page.locator(".items li[data-outcome=assigned] .outcome")).to_have_text(ASSIGNED)
    expect(page.locator(".items li").first).to_contain_text(CODE)
    transaction = page.locator(".facts dd").first.inner_text()
    assert transaction.startswith("PRUEBA-")

    page.goto(WEBHOOKS_PATH)
    second = send_test_sale(page)  # the same code to the same buyer again
    expect(page.locator(".items li[data-outcome=already_assigned] .outcome")).to_have_text(ALREADY_ASSIGNED)

    page.get_by_role("link", name="Ver todos los eventos").click()
    expect(page).to_have_url(re.compile(re.escape(EVENTS_PATH) + "$"))
    rows = page.locator("tbody tr[data-event-id]")
    expect(rows).to_have_count(2)
    expect(page.locator(f"tr[data-event-id='{first}']")).to_contain_text(PROCESSED)
    expect(page.locator(f"tr[data-event-id='{first}']")).to_contain_text(ASSIGNED)

    def apply(outcome: str = "", transaction_id: str = "") -> None:
        page.get_by_label("Resultado de un producto", exact=True).select_option(label=outcome or "Cualquiera")
        page.get_by_label("Transacción", exact=True).fill(transaction_id)
        with page.expect_navigation():
            page.get_by_role("button", name="Filtrar", exact=True).click()

    apply(outcome=ASSIGNED)
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-event-id", first)
    apply(outcome=ALREADY_ASSIGNED)
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-event-id", second)
    apply(outcome="conflicto: pertenece a otro comprador")
    expect(rows).to_have_count(0)
    expect(page.get_by_text(NO_EVENTS)).to_be_visible()
    apply(transaction_id=transaction)
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-event-id", first)
    expect(page.get_by_label("Transacción", exact=True)).to_have_value(transaction)  # the filter stays shown
    apply(transaction_id="NO-EXISTE-1")
    expect(rows).to_have_count(0)


# 4. Refused requests, with their reasons and never their content ------------------------------------------


def test_refused_requests_show_their_reason_and_failing_fields_but_no_content(page, dashboard):
    tenant = dashboard.new_tenant()
    account = dashboard.create_user(tenant=tenant)
    sut = dashboard.sut
    body = sale("FACT-BAD-SIGNATURE")
    assert sut.post(tenant.id, body, {"Content-Type": "application/json",
                                      "X-Autentikapp-Signature": "0" * 64})[0] == 401
    assert sut.send(tenant.id, tenant.secret, sale(without="transaction_id"))[0] == 422

    sign_in(page, account)
    page.get_by_role("link", name="Solicitudes rechazadas").click()
    expect(page).to_have_url(re.compile(re.escape(REFUSED_PATH) + "$"))
    rows = page.locator("tbody tr[data-code]")
    reload_until(page, lambda: rows.count() == 2, what="both refusals listed")

    signature = page.locator("tr[data-code='invalid-signature']")
    expect(signature.locator("td").nth(1)).to_have_text("401 invalid-signature")
    expect(signature.locator("td").nth(2)).not_to_be_empty()
    expect(signature.locator("td").nth(3)).to_have_text("—")
    payload = rows.filter(has_text="422")
    expect(payload.locator("td").nth(3)).to_have_text("transaction_data.transaction_id")  # "Campos con error"
    expect(page.get_by_role("columnheader", name="Campos con error")).to_be_visible()
    expect(payload.locator("td").nth(2)).not_to_be_empty()
    content = page.content()
    for value in ("FACT-BAD-SIGNATURE", "cliente@email.com", "123456789", "Diego", "López", "BOLSO-CUERO-01", CODE):
        assert value not in content, f"{value!r} of a refused body is on the page"


# 5. A dead letter: listed with its reason, replayed from the page ------------------------------------------


def test_a_dead_letter_is_listed_with_its_reason_and_replayed_from_the_page(page, dashboard, dead_letters):
    letter = dead_letters["replay"]
    account = dashboard.create_user(tenant=letter.tenant)
    sign_in(page, account)

    page.goto(event_path(letter.event_id))
    expect(page.locator("#event-status")).to_have_text(FAILED)
    page.get_by_role("link", name="Eventos fallidos").click()
    expect(page).to_have_url(re.compile(re.escape(DEAD_LETTERS_PATH) + "$"))
    row = page.locator(f"tr[data-event-id='{letter.event_id}']")
    expect(row.locator("td").nth(1)).to_have_text(letter.transaction_id)
    expect(row.locator("td").nth(2)).to_have_text(  # the reason: what failed, and how often it was tried
        re.compile(r"^AssignIdentifiers failed: UNAVAILABLE .*; gave up after 3 deliveries$"))
    expect(row.locator("td").nth(3)).to_have_text("3")  # BUS_MAX_DELIVER deliveries

    page.get_by_role("button", name=f"Reintentar {letter.transaction_id}", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(f"Evento {letter.event_id} enviado de nuevo a procesar.")
    expect(row).to_have_count(0)
    expect(page.get_by_text("No hay eventos fallidos.")).to_be_visible()

    page.goto(event_path(letter.event_id))  # recorded (as failed) already, so it does not reload itself
    reload_until(page, lambda: page.locator("#event-status").inner_text() == PROCESSED, timeout=60,
                 what="the replayed event processed")
    expect(page.locator(".items li[data-outcome=assigned] .outcome")).to_have_text(ASSIGNED)
