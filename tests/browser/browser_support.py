"""What the browser tests share: the dashboard of the whole system they browse (its tenants and users), the
sign-in form as a person fills it, the pages' texts in each language, and accessibility checks any page may
reuse."""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass

from playwright.sync_api import Page, expect

from dashboard import db
from dashboard.audit import Actor
from dashboard.passwords import Passwords
from dashboard.settings import LoginLimits
from dashboard.users import UserStore
from system_support import EXAMPLE, System, wait_for

PASSWORD = "correct horse battery"
LOGIN_PATH = "/login"
WEBHOOKS_PATH = "/configuracion/integraciones/webhooks"
LOGIN_MAX_FAILURES = 3  # DASHBOARD_LOGIN_MAX_FAILURES of the served dashboard
LOCKOUT_MINUTES = 10


@dataclass(frozen=True)
class Texts:
    """What the pages say in one language (literal on purpose: the browser must show these words)."""

    lang: str
    locale: str
    login_title: str
    tenant: str
    email: str
    password: str
    submit: str
    login_failed: str
    locked: str
    skip_link: str
    signed_in_as: str
    logout: str
    unavailable_title: str
    csrf_title: str
    webhooks_title: str
    roles: dict[str, str]

    def signed_in(self, account: Account) -> str:
        """What the header says of who is signed in."""
        return self.signed_in_as.format(email=account.email, role=self.roles[account.role])


TEXTS = {
    "es": Texts("es", "es-ES", "Iniciar sesión", "ID de cliente", "Correo electrónico", "Contraseña", "Entrar",
                "El ID de cliente, el correo o la contraseña no son correctos.",
                f"Demasiados intentos fallidos. Vuelva a intentarlo en {LOCKOUT_MINUTES} minutos.",
                "Saltar al contenido", "Sesión iniciada como {email} ({role})", "Cerrar sesión",
                "Servicio no disponible", "El formulario ha caducado", "Webhooks",
                {"admin": "administrador", "viewer": "lector"}),
    "en": Texts("en", "en-US", "Sign in", "Customer ID", "E-mail", "Password", "Sign in",
                "The customer ID, e-mail or password is not correct.",
                f"Too many failed attempts. Try again in {LOCKOUT_MINUTES} minutes.",
                "Skip to content", "Signed in as {email} ({role})", "Sign out",
                "Service unavailable", "This form has expired", "Webhooks",
                {"admin": "administrator", "viewer": "viewer"}),
}


@dataclass(frozen=True)
class Account:
    tenant: str
    email: str
    password: str = PASSWORD
    role: str = "admin"


@dataclass(frozen=True)
class Tenant:
    id: str
    secret: str  # its first signing secret


EXAMPLE_SALE = json.loads(EXAMPLE.read_bytes())
CODE = EXAMPLE_SALE["transaction_data"]["line_items"][0]["autentikapp_code"]  # the guide's registered code


class Dashboard:
    """The dashboard of a running whole system (system_support.own_system with the dashboard): where the
    browser goes, and the tenants (through the gateway's store) and users (the dashboard's own UserStore on
    its database, with the production Argon2 parameters) each test makes for itself."""

    def __init__(self, sut: System):
        self.sut = sut
        self.base_url = f"http://127.0.0.1:{sut.ports['dashboard']}"
        self._pool = db.open_pool(sut.env["DASHBOARD_DATABASE_URL"], min_size=1, max_size=2)
        self._users = UserStore(self._pool, Passwords(), LoginLimits())

    def close(self) -> None:
        self._pool.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    def endpoint_url(self, tenant: str) -> str:
        """Where the tenant's systems send their sales (the dashboard's PUBLIC_BASE_URL is the gateway's)."""
        return f"{self.sut.base_url}/v1/webhooks/inbound/{tenant}"

    def new_tenant(self, prefix: str = "brand", codes: tuple[str, ...] = (), tenant_id: str | None = None) -> Tenant:
        """A new tenant (a unique id unless `tenant_id`), with `codes` registered, and its first secret."""
        tenant_id = tenant_id or f"{prefix}-{uuid.uuid4().hex[:8]}"
        return Tenant(tenant_id, self.sut.create_tenant(tenant_id, prefix.capitalize(), codes))

    def create_user(self, role: str = "admin", tenant: Tenant | str | None = None, email: str | None = None) -> Account:
        """A new user, of a new tenant unless given one, with a unique e-mail unless given one (so one test's
        failed sign-ins never lock another's account)."""
        tenant_id = (tenant.id if isinstance(tenant, Tenant) else tenant) or self.new_tenant().id
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@{tenant_id}.example"
        self._users.create_user(tenant_id, email, PASSWORD, role, Actor.cli("browser-tests"))
        return Account(tenant_id, email, role=role)


def sale(transaction_id: str | None = None, *, code: str | None = None, without: str = "") -> bytes:
    """The guide's example sale (cli/examples/transaction_created.json), with another transaction id or
    product code, or without one field of transaction_data."""
    body = copy.deepcopy(EXAMPLE_SALE)
    if transaction_id:
        body["transaction_data"]["transaction_id"] = transaction_id
    if code:
        body["transaction_data"]["line_items"][0]["autentikapp_code"] = code
    if without:
        del body["transaction_data"][without]
    return json.dumps(body).encode()


def fill_sign_in(page: Page, texts: Texts, account: Account, password: str | None = None) -> None:
    """Fill the sign-in form by its labels, as a person reads it."""
    page.get_by_label(texts.tenant, exact=True).fill(account.tenant)
    page.get_by_label(texts.email, exact=True).fill(account.email)
    page.get_by_label(texts.password, exact=True).fill(account.password if password is None else password)


def submit_sign_in(page: Page, texts: Texts, account: Account, password: str | None = None) -> int:
    """Fill and send the sign-in form; the status of the page it ends on (after any redirect)."""
    fill_sign_in(page, texts, account, password)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=texts.submit, exact=True).click()
    return navigation.value.status


def sign_in(page: Page, account: Account, texts: Texts | None = None) -> None:
    """Sign in through the form (in Spanish unless `texts`) and land on the webhooks page."""
    texts = texts or TEXTS["es"]
    page.goto(LOGIN_PATH + ("" if texts.lang == "es" else f"?lang={texts.lang}"))
    expect_webhooks_page(page, texts, account, submit_sign_in(page, texts, account))


def expect_webhooks_page(page: Page, texts: Texts, account: Account, status: int = 200) -> None:
    """Signed in on Configuración > Integraciones > Webhooks, with the tenant's endpoint URL."""
    expect(page).to_have_url(re.compile(re.escape(WEBHOOKS_PATH) + "$"))
    assert status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text(texts.webhooks_title)
    endpoint = re.compile(re.escape(f"/v1/webhooks/inbound/{account.tenant}") + "$")
    expect(page.locator("#endpoint-url")).to_have_value(endpoint)
    expect(page.get_by_text(texts.signed_in(account), exact=True)).to_be_visible()


def csrf_token(page: Page) -> str:
    """The session's CSRF token, as the page's forms carry it."""
    return page.locator("form[action='/logout'] input[name=csrf_token]").get_attribute("value")


def unlabelled_fields(page: Page) -> list[str]:
    """The page's form fields a person cannot be told the purpose of: each visible input, select and
    textarea must have a <label> (by `for` or around it) with text, or an aria-label(ledby). Returns them."""
    return page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden')
        .filter(el => {
          const labels = [...(el.labels || [])].map(l => l.textContent.trim()).filter(Boolean);
          const aria = (el.getAttribute('aria-label') || '').trim();
          const by = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
            .map(id => (document.getElementById(id) || {}).textContent || '').join('').trim();
          return !labels.length && !aria && !by;
        })
        .map(el => el.outerHTML)""")


def field_labels(page: Page) -> list[tuple[str, str]]:
    """(label text, id of the field it labels) for every <label for=...> on the page."""
    return page.evaluate("""() => [...document.querySelectorAll('label[for]')]
        .map(l => [l.textContent.trim(), l.htmlFor])""")


# The signed-in pages (Configuración > Integraciones > Webhooks and its sections; Usuarios for admins).
EVENTS_PATH = WEBHOOKS_PATH + "/eventos"
REFUSED_PATH = WEBHOOKS_PATH + "/rechazadas"
DEAD_LETTERS_PATH = WEBHOOKS_PATH + "/fallidos"
USERS_PATH = "/configuracion/usuarios"
MAIN_PAGES = {"webhooks": WEBHOOKS_PATH, "eventos": EVENTS_PATH, "rechazadas": REFUSED_PATH,
              "fallidos": DEAD_LETTERS_PATH, "usuarios": USERS_PATH}


def event_path(event_id: str) -> str:
    return f"{EVENTS_PATH}/{event_id}"


def reload_until(page: Page, check, what: str, timeout: float = 30.0) -> None:
    """Reload the page until `check()` is true: for pages that do not refresh themselves (a list that
    something else fills in the background)."""
    def reloaded() -> bool:
        page.reload()
        return bool(check())

    wait_for(reloaded, timeout=timeout, interval=0.5, what=what)


def tab_to(page: Page, target, limit: int = 40) -> None:
    """Press Tab, as a keyboard user does, until `target` (a locator) has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} not reached after {limit} presses of Tab")
