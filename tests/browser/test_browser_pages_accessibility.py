"""The signed-in pages' accessibility basics in a real browser, on the whole system with something on every
page (events, a refused request, a dead letter): every form control has a label a person can find it by,
the html lang is the page's language, every text and button reaches WCAG AA contrast (4.5:1), and a test
sale can be sent with the keyboard alone."""

from __future__ import annotations

import re

import pytest
from browser_support import (
    CODE,
    EVENTS_PATH,
    MAIN_PAGES,
    TEXTS,
    field_labels,
    reload_until,
    sale,
    sign_in,
    tab_to,
    unlabelled_fields,
)
from playwright.sync_api import expect
from system_support import wait_for
from wcag_contrast import assert_page_contrast

# The labelled controls each page must have (Spanish, English): a page losing a field's label fails here.
LABELS = {
    "webhooks": {"es": ["URL del endpoint"], "en": ["Endpoint URL"]},
    "eventos": {"es": ["Estado", "Resultado de un producto", "Transacción"],
                "en": ["Status", "Outcome of a product", "Transaction"]},
    "rechazadas": {"es": [], "en": []},
    "fallidos": {"es": [], "en": []},
    "usuarios": {"es": ["Correo electrónico", "Rol", "Contraseña inicial"], "en": ["E-mail", "Role", "First password"]},
}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_main_page_has_labelled_controls_its_lang_and_enough_contrast(new_page, dashboard, dead_letters, lang):
    letter = dead_letters["kept"]  # a tenant with a dead letter listed; then events of each colour, a refusal
    sut, tenant = dashboard.sut, letter.tenant
    sent = [sut.send(tenant.id, tenant.secret, sale(f"FACT-A11Y-{lang}-{n}", code=code))[2]["event_id"]
            for n, code in enumerate((CODE, "0" * 32))]  # assigned (or already), and an unknown code
    sut.post(tenant.id, b"{}", {"Content-Type": "application/json", "X-Autentikapp-Signature": "0" * 64})
    for event_id in sent:
        wait_for(lambda: sut.event_status(tenant.id, event_id) == "processed", timeout=60, what=f"{event_id} processed")
    texts = TEXTS[lang]
    page = new_page(locale=texts.locale)
    sign_in(page, dashboard.create_user(tenant=letter.tenant), texts)
    for name, path in MAIN_PAGES.items():
        page.goto(path)
        if name == "rechazadas":
            reload_until(page, lambda: page.locator("tbody tr[data-code]").count() > 0, what="a refusal listed")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        assert page.locator("tbody tr td").count() > 0, name  # something on the page to check
        assert unlabelled_fields(page) == [], name
        labels = field_labels(page)
        assert [text for text, _ in labels] == LABELS[name][lang], name
        for text, field_id in labels:  # a person finds each field by its label's words
            expect(page.locator("input, select, textarea").and_(page.get_by_label(text, exact=True))) \
                .to_have_attribute("id", field_id)
        assert assert_page_contrast(page) > 10, name
    page.goto(EVENTS_PATH)
    for outcome in ("assigned", "unknown_code"):  # the outcomes' own colours were among those checked
        expect(page.locator(f".outcome-{outcome}").first).to_be_visible()


def test_a_test_sale_can_be_sent_with_the_keyboard_alone(page, dashboard):
    sign_in(page, dashboard.create_user(tenant=dashboard.new_tenant(codes=(CODE,))))
    button = page.get_by_role("button", name="Enviar una venta de prueba", exact=True)

    tab_to(page, button)
    expect(button).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(EVENTS_PATH) + r"/evt_[0-9a-f]{32}$"))
    expect(page.locator("#event-status")).to_have_text("Procesado", timeout=60_000)

    tab_to(page, page.get_by_role("link", name="Ver todos los eventos"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(EVENTS_PATH) + "$"))
    expect(page.locator("tbody tr[data-event-id]")).to_have_count(1)
