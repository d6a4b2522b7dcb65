"""Sign-in in a real browser (headless Chromium) against the dashboard of the whole system: the right
password, a wrong one in Spanish and English, the lockout, CSRF refusals, the cookies the browser keeps,
and the sign-in page's accessibility basics (labels, keyboard only, lang, contrast). Signed in, the
browser lands on the tenant's webhooks page (browser_support.expect_webhooks_page)."""

from __future__ import annotations

import re

import pytest
from browser_support import (
    LOGIN_MAX_FAILURES,
    LOGIN_PATH,
    TEXTS,
    WEBHOOKS_PATH,
    Texts,
    expect_webhooks_page,
    field_labels,
    submit_sign_in,
    unlabelled_fields,
)
from playwright.sync_api import Page, expect
from wcag_contrast import assert_contrast

ES, EN = TEXTS["es"], TEXTS["en"]
SESSION_COOKIE = "autentikapp_dashboard"  # without __Host-: plain HTTP (DASHBOARD_SECURE_COOKIES=false)
LOGIN_CSRF_COOKIE = "autentikapp_login_csrf"
WRONG_PASSWORD = "not the password at all"


def open_sign_in(page: Page, texts: Texts, *, ask: bool = True) -> None:
    """Open the sign-in page; in `texts`' language by ?lang= unless `ask` is False (then the browser's)."""
    page.goto(LOGIN_PATH + (f"?lang={texts.lang}" if ask and texts.lang != "es" else ""))
    expect(page.get_by_role("heading", level=1)).to_have_text(texts.login_title)


def cookie(page: Page, name: str) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == name), None)


# Sign-in ------------------------------------------------------------------------------------------------


def test_the_right_password_signs_in_to_the_webhooks_page_and_sign_out_ends_it(page, dashboard):
    account = dashboard.create_user()
    open_sign_in(page, ES)
    expect_webhooks_page(page, ES, account, submit_sign_in(page, ES, account))

    page.get_by_role("button", name=ES.logout, exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(LOGIN_PATH) + "$"))
    page.goto(WEBHOOKS_PATH)  # the session is over: back to the sign-in form
    expect(page).to_have_url(re.compile(re.escape(LOGIN_PATH) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(ES.login_title)


@pytest.mark.parametrize("texts", [ES, EN], ids=["es", "en"])
def test_a_wrong_password_is_refused_in_the_page_language(page, dashboard, texts):
    account = dashboard.create_user()
    open_sign_in(page, texts)
    assert submit_sign_in(page, texts, account, WRONG_PASSWORD) == 401

    expect(page.get_by_role("alert")).to_have_text(texts.login_failed)
    expect(page.locator("html")).to_have_attribute("lang", texts.lang)
    # What was typed stays, except the password; the form points at the message for screen readers.
    expect(page.get_by_label(texts.tenant, exact=True)).to_have_value(account.tenant)
    expect(page.get_by_label(texts.email, exact=True)).to_have_value(account.email)
    expect(page.get_by_label(texts.password, exact=True)).to_have_value("")
    expect(page.locator("form.stacked")).to_have_attribute("aria-describedby", "login-error")
    assert cookie(page, SESSION_COOKIE) is None


def test_the_account_locks_after_the_configured_failures_even_for_the_right_password(page, dashboard):
    account = dashboard.create_user()
    open_sign_in(page, ES)
    for _ in range(LOGIN_MAX_FAILURES - 1):
        assert submit_sign_in(page, ES, account, WRONG_PASSWORD) == 401
        expect(page.get_by_role("alert")).to_have_text(ES.login_failed)

    assert submit_sign_in(page, ES, account, WRONG_PASSWORD) == 429
    expect(page.get_by_role("alert")).to_have_text(ES.locked)
    assert submit_sign_in(page, ES, account) == 429  # locked: the password is not even looked at
    expect(page.get_by_role("alert")).to_have_text(ES.locked)
    assert cookie(page, SESSION_COOKIE) is None


# CSRF ---------------------------------------------------------------------------------------------------


def expect_csrf_page(page: Page, texts: Texts) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(texts.csrf_title)
    expect(page.locator("html")).to_have_attribute("lang", texts.lang)


def test_a_sign_in_form_with_an_altered_token_is_refused_with_the_csrf_page(page, dashboard):
    account = dashboard.create_user()
    open_sign_in(page, ES)
    page.locator("input[name=csrf_token]").evaluate("input => { input.value = 'forged-' + input.value }")
    assert submit_sign_in(page, ES, account) == 403
    expect_csrf_page(page, ES)
    assert cookie(page, SESSION_COOKIE) is None


def test_a_sign_in_post_without_the_token_is_refused_403(page, dashboard):
    account = dashboard.create_user()
    open_sign_in(page, EN)  # the browser holds the login CSRF cookie; the POST lacks the form's field
    response = page.request.post(LOGIN_PATH, form={"tenant": account.tenant, "email": account.email,
                                                   "password": account.password})
    assert response.status == 403
    assert f"<h1>{EN.csrf_title}</h1>" in response.text()
    assert cookie(page, SESSION_COOKIE) is None


def test_signed_in_a_form_without_its_token_is_refused_and_changes_nothing(page, dashboard):
    account = dashboard.create_user()
    open_sign_in(page, ES)
    expect_webhooks_page(page, ES, account, submit_sign_in(page, ES, account))

    page.locator("form[action='/logout'] input[name=csrf_token]").evaluate("input => input.remove()")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=ES.logout, exact=True).click()
    assert navigation.value.status == 403
    expect_csrf_page(page, ES)
    expect(page.get_by_text(ES.signed_in(account), exact=True)).to_be_visible()


# Cookies as the browser keeps them ----------------------------------------------------------------------


def test_the_cookies_are_http_only_same_site_lax_and_not_secure_over_plain_http(page, dashboard):
    account = dashboard.create_user()
    open_sign_in(page, ES)
    login_csrf = cookie(page, LOGIN_CSRF_COOKIE)
    assert login_csrf is not None
    assert (login_csrf["httpOnly"], login_csrf["sameSite"], login_csrf["secure"]) == (True, "Lax", False)

    expect_webhooks_page(page, ES, account, submit_sign_in(page, ES, account))
    session = cookie(page, SESSION_COOKIE)
    assert session is not None, page.context.cookies()
    assert (session["httpOnly"], session["sameSite"], session["secure"]) == (True, "Lax", False)
    assert session["path"] == "/" and session["expires"] == -1  # host-only, ends with the browser session
    assert session["domain"] == "127.0.0.1"
    assert cookie(page, LOGIN_CSRF_COOKIE) is None  # spent at sign-in
    assert SESSION_COOKIE not in page.evaluate("document.cookie")  # no script of the page can read it


# Accessibility of the sign-in page -----------------------------------------------------------------------


@pytest.mark.parametrize("texts", [ES, EN], ids=["es", "en"])
def test_every_field_of_the_sign_in_form_has_a_label(page, dashboard, texts):
    open_sign_in(page, texts)
    assert unlabelled_fields(page) == []
    labels = field_labels(page)
    assert [text for text, _ in labels] == [texts.tenant, texts.email, texts.password]
    for text, field_id in labels:
        expect(page.get_by_label(text, exact=True)).to_have_attribute("id", field_id)


def test_the_sign_in_form_can_be_completed_with_the_keyboard_alone(page, dashboard):
    account = dashboard.create_user()
    open_sign_in(page, ES)
    keyboard = page.keyboard

    keyboard.press("Tab")
    expect(page.get_by_role("link", name=ES.skip_link)).to_be_focused()  # the first stop skips the header
    keyboard.press("Tab")
    expect(page.get_by_role("link", name="English")).to_be_focused()
    keyboard.press("Tab")
    expect(page.get_by_label(ES.tenant, exact=True)).to_be_focused()
    keyboard.type(account.tenant)
    keyboard.press("Tab")
    expect(page.get_by_label(ES.email, exact=True)).to_be_focused()
    keyboard.type(account.email)
    keyboard.press("Tab")
    expect(page.get_by_label(ES.password, exact=True)).to_be_focused()
    keyboard.type(account.password)
    with page.expect_navigation() as navigation:
        keyboard.press("Enter")
    expect_webhooks_page(page, ES, account, navigation.value.status)


@pytest.mark.parametrize(("locale", "query", "lang"), [
    ("es-ES", "", "es"),
    ("en-US", "", "en"),  # the browser's Accept-Language
    ("es-ES", "?lang=en", "en"),  # the page's language switch wins over the browser's
    ("en-US", "?lang=es", "es"),
])
def test_the_html_lang_attribute_is_the_language_of_the_page(new_page, dashboard, locale, query, lang):
    page = new_page(locale=locale)
    page.goto(LOGIN_PATH + query)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.get_by_role("heading", level=1)).to_have_text(TEXTS[lang].login_title)


def test_the_sign_in_page_text_and_button_colours_contrast_enough(page, dashboard):
    account = dashboard.create_user()
    open_sign_in(page, ES)
    page.get_by_label(ES.tenant, exact=True).fill(account.tenant)
    checked = {
        "heading": page.get_by_role("heading", level=1),
        "intro": page.locator("main p").first,
        "label": page.locator("label[for=tenant]"),
        "hint": page.locator("#tenant-hint"),
        "typed text": page.get_by_label(ES.tenant, exact=True),
        "button": page.get_by_role("button", name=ES.submit, exact=True),
        "brand": page.locator(".brand"),
        "language link": page.get_by_role("link", name="English"),
    }
    for name, locator in checked.items():
        assert_contrast(locator, what=name)

    assert submit_sign_in(page, ES, account, WRONG_PASSWORD) == 401
    assert_contrast(page.get_by_role("alert"), what="error message")
