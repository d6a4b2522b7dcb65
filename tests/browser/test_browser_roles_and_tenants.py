"""Who may do what, in a real browser against the whole system: a viewer sees the pages but none of the
buttons that change something, and the server refuses its POSTs anyway (403); a user of another tenant
reaches nothing of a tenant by typing its URLs or posting its ids (404, the pending page); a signed-in
POST without its CSRF token changes nothing. Every refusal is checked to have changed nothing."""

from __future__ import annotations

import re

from browser_support import (
    CODE,
    DEAD_LETTERS_PATH,
    EVENTS_PATH,
    REFUSED_PATH,
    TEXTS,
    USERS_PATH,
    WEBHOOKS_PATH,
    csrf_token,
    event_path,
    sign_in,
)
from playwright.sync_api import Page, expect

ES = TEXTS["es"]
NOT_ALLOWED = "Acción no permitida"
NOT_FOUND = "Página no encontrada"
PENDING = "Recibido. Esperando el resultado del procesamiento: esta página se actualiza sola."
CHANGING_BUTTONS = re.compile(
    r"^(Crear una clave nueva|Revocar la clave \d+|Enviar una venta de prueba|Reintentar .*)$")


def active_secret_ids(page: Page) -> list[int]:
    page.goto(WEBHOOKS_PATH)
    return [int(i) for i in page.locator("tr[data-secret-id]").filter(has_text="Activa").evaluate_all(
        "rows => rows.map(r => r.dataset.secretId)")]


def dead_letter_sequence(page: Page, event_id: str) -> int:
    page.goto(DEAD_LETTERS_PATH)
    return int(page.locator(f"tr[data-event-id='{event_id}']").get_attribute("data-sequence"))


def post_form(page: Page, path: str, token: str | None):
    """A POST of the page's session, as its forms send it (with the session's CSRF token unless None)."""
    return page.request.post(path, form={} if token is None else {"csrf_token": token}, max_redirects=0)


def test_a_viewer_sees_the_pages_without_buttons_and_its_posts_are_refused(new_page, dashboard, dead_letters):
    letter = dead_letters["kept"]
    admin_page = new_page()
    sign_in(admin_page, dashboard.create_user(tenant=letter.tenant))
    admin_page.get_by_role("button", name="Crear una clave nueva", exact=True).click()  # two active: one is revocable
    sequence = dead_letter_sequence(admin_page, letter.event_id)

    viewer = dashboard.create_user("viewer", tenant=letter.tenant)
    page = new_page()
    sign_in(page, viewer)
    expect(page.get_by_text(ES.signed_in(viewer), exact=True)).to_be_visible()
    active = active_secret_ids(page)
    assert len(active) == 2
    expect(page.get_by_text("Su rol es de solo lectura: un administrador puede crear y revocar claves.")) \
        .to_be_visible()
    expect(page.get_by_role("columnheader", name="Acciones")).to_have_count(0)
    for path in (WEBHOOKS_PATH, EVENTS_PATH, REFUSED_PATH, DEAD_LETTERS_PATH):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.get_by_role("button", name=CHANGING_BUTTONS)).to_have_count(0)
    expect(page.locator(f"tr[data-event-id='{letter.event_id}']")).to_contain_text(letter.transaction_id)  # seen
    expect(page.get_by_role("link", name="Usuarios")).to_have_count(0)
    assert page.goto(USERS_PATH).status == 403

    token = csrf_token(page)
    for path in (f"{WEBHOOKS_PATH}/secrets/{active[-1]}/revoke", f"{WEBHOOKS_PATH}/secrets",
                 f"{DEAD_LETTERS_PATH}/{sequence}/reintentar", f"{WEBHOOKS_PATH}/venta-de-prueba"):
        answer = post_form(page, path, token)
        assert answer.status == 403, path
        assert f"<h1>{NOT_ALLOWED}</h1>" in answer.text()

    assert active_secret_ids(page) == active  # nothing revoked, nothing created
    assert dead_letter_sequence(page, letter.event_id) == sequence  # not replayed
    page.goto(EVENTS_PATH)
    expect(page.locator("tbody tr[data-event-id]").filter(has_text="PRUEBA-")).to_have_count(0)  # no test sale


def test_another_tenants_events_dead_letters_and_secrets_are_out_of_reach(new_page, dashboard, dead_letters):
    letter = dead_letters["kept"]
    owner_page = new_page()
    sign_in(owner_page, dashboard.create_user(tenant=letter.tenant))
    sequence = dead_letter_sequence(owner_page, letter.event_id)
    if len(active_secret_ids(owner_page)) < 2:  # so that revoking one would be allowed to its own admins
        owner_page.get_by_role("button", name="Crear una clave nueva", exact=True).click()
    theirs = active_secret_ids(owner_page)

    stranger = dashboard.create_user(tenant=dashboard.new_tenant(codes=(CODE,)))
    page = new_page()
    sign_in(page, stranger)
    page.goto(event_path(letter.event_id))  # their event, by URL: the same page as an event not recorded yet
    expect(page.locator("#event-status")).to_have_attribute("data-status", "pending")
    expect(page.locator("#event-status")).to_have_text(PENDING)
    expect(page.locator("meta[http-equiv=refresh]")).to_have_attribute("content", "2")  # and it keeps asking
    for theirs_only in (letter.transaction_id, letter.tenant.id, "Fallido", "AssignIdentifiers"):
        assert theirs_only not in page.locator("main").inner_text()
    page.goto(DEAD_LETTERS_PATH)
    expect(page.locator("tbody tr[data-event-id]")).to_have_count(0)

    token = csrf_token(page)
    for path in (f"{DEAD_LETTERS_PATH}/{sequence}/reintentar", f"{WEBHOOKS_PATH}/secrets/{theirs[-1]}/revoke"):
        answer = post_form(page, path, token)
        assert answer.status == 404, path
        assert f"<h1>{NOT_FOUND}</h1>" in answer.text()

    assert dead_letter_sequence(owner_page, letter.event_id) == sequence  # still there, not replayed
    assert active_secret_ids(owner_page) == theirs  # none revoked


def test_a_signed_in_post_without_its_csrf_token_is_refused_and_changes_nothing(page, dashboard):
    account = dashboard.create_user()
    sign_in(page, account)
    [only] = active_secret_ids(page)

    page.locator(f"form[action='{WEBHOOKS_PATH}/secrets'] input[name=csrf_token]").evaluate("input => input.remove()")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Crear una clave nueva", exact=True).click()
    assert navigation.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text(ES.csrf_title)
    expect(page.get_by_role("textbox", name="Su nueva clave secreta")).to_have_count(0)

    answer = post_form(page, f"{WEBHOOKS_PATH}/venta-de-prueba", None)  # the session's cookie, no token
    assert answer.status == 403 and f"<h1>{ES.csrf_title}</h1>" in answer.text()
    assert active_secret_ids(page) == [only]
    page.goto(EVENTS_PATH)
    expect(page.locator("tbody tr[data-event-id]")).to_have_count(0)
