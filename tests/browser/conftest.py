"""Fixtures of the browser tests: one headless Chromium (devstack/browser.py finds it; `make browser`
installs it), a fresh context and page per test (Spanish unless asked otherwise), a screenshot of the
page when a test fails, and the whole system to browse: one for the session (system_support.own_system
with the dashboard, as `make run` starts it), on which each test makes tenants and users of its own.

No browser is a failure, never a skip. The browser is launched once and shared by the browser tests
that run one after another (normally all of them: one launch per session). Playwright's sync API
leaves its asyncio loop marked as running on this thread while it is started, which breaks every
later `asyncio.run()` in the session, so it is stopped as soon as the next test is not a browser test
(and started again should another browser test come later).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import CODE, LOCKOUT_MINUTES, LOGIN_MAX_FAILURES, TEXTS, Dashboard, Tenant, sale
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright
from system_support import System, own_system, wait_for

from devstack import browser as chromium_setup

HERE = Path(__file__).resolve().parent
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)


def _is_browser_test(item: pytest.Item | None) -> bool:
    return item is not None and HERE in Path(str(item.path)).resolve().parents


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real headless Chromium (tests/browser/)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_browser_test(item):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)


class SharedBrowser:
    """The Chromium of consecutive browser tests: launched on first use, stopped by `stop()`."""

    def __init__(self, chromium: chromium_setup.Chromium):
        self.chromium = chromium
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def get(self) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            self.stop()
            self._playwright = sync_playwright().start()
            try:
                self._browser = self._playwright.chromium.launch(**chromium_setup.launch_options(self.chromium))
            except Exception as exc:
                self.stop()
                pytest.fail(f"{self.chromium.path} did not start headless: {exc}", pytrace=False)
        return self._browser

    def stop(self) -> None:
        if self._browser is not None:
            try:
                self._browser.close()
            finally:
                self._browser = None
        if self._playwright is not None:
            try:
                self._playwright.stop()
            finally:
                self._playwright = None


_shared: SharedBrowser | None = None


@pytest.fixture(scope="session")
def chromium() -> chromium_setup.Chromium:
    """The Chromium `make browser` checked; none is a loud failure (never a skip)."""
    try:
        found, problem = chromium_setup.find_chromium(), ""
    except chromium_setup.BrowserError as exc:
        found, problem = None, str(exc)
    if found is None:
        pytest.fail(problem or chromium_setup.missing_message(), pytrace=False)
    return found


@pytest.fixture(scope="session")
def shared_browser(chromium) -> Iterator[SharedBrowser]:
    global _shared
    _shared = SharedBrowser(chromium)
    yield _shared
    _shared.stop()
    _shared = None


@pytest.fixture
def browser(shared_browser) -> Browser:
    """The session's headless Chromium (one launch for the browser tests run together)."""
    return shared_browser.get()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    result = yield
    if _shared is not None and not _is_browser_test(nextitem):
        _shared.stop()  # before any other test: see the module's docstring
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# The browser system's extra environment: the sign-in limits the tests count on, and three deliveries per
# event with delays that add up to more than the processor's longest gRPC reconnect backoff (3 s), so a
# dead letter is made in seconds and a replay sent right after its service is back does not fail again
# (as in tests/e2e/test_gateway_admin_flow.py).
SYSTEM_ENV = {
    "DASHBOARD_LOGIN_MAX_FAILURES": str(LOGIN_MAX_FAILURES),
    "DASHBOARD_LOGIN_LOCKOUT_SECONDS": str(LOCKOUT_MINUTES * 60),
    # Every test signs in from 127.0.0.1: the per-address limit must not end the run's sign-ins.
    "DASHBOARD_LOGIN_IP_MAX_FAILURES": "100000",
    "DASHBOARD_TRUSTED_PROXIES": "0",
    "BUS_MAX_DELIVER": "3",
    "PROCESSOR_RETRY_DELAYS": "1,4",
}


@pytest.fixture(scope="session")
def browser_system(tmp_path_factory, postgres) -> Iterator[System]:
    """The whole system with the dashboard, real processes on free ports (own NATS and databases), shared by
    every browser test of the session: starting one takes seconds."""
    with own_system(tmp_path_factory.mktemp("browser-system"), postgres, SYSTEM_ENV, with_dashboard=True) as sut:
        yield sut


@pytest.fixture(scope="session")
def dashboard(browser_system) -> Iterator[Dashboard]:
    """The system's dashboard: its address, and new tenants and users for each test."""
    board = Dashboard(browser_system)
    try:
        yield board
    finally:
        board.close()


@dataclass(frozen=True)
class DeadLetter:
    tenant: Tenant
    event_id: str
    transaction_id: str


@pytest.fixture(scope="session")
def dead_letters(dashboard) -> dict[str, DeadLetter]:
    """Three dead-lettered sales, made at once (identifier_service stopped while they ran out of deliveries,
    then started again), each of a tenant of its own with the guide's code: "replay" (a test replays it),
    "kept" (never replayed: for the viewer's and the other tenants' attempts, and the pages' checks) and
    "screenshot" (tenant "acme", for the guide's pictures)."""
    sut = dashboard.sut
    planned = {"replay": (dashboard.new_tenant("replay", codes=(CODE,)), "FACT-DL-001"),
               "kept": (dashboard.new_tenant("kept", codes=(CODE,)), "FACT-DL-002"),
               "screenshot": (dashboard.new_tenant("acme", codes=(CODE,), tenant_id="acme"), "FACT-00123")}
    made: dict[str, DeadLetter] = {}
    sut.stop("identifier_service")
    try:
        for name, (tenant, transaction_id) in planned.items():
            status, _, body = sut.send(tenant.id, tenant.secret, sale(transaction_id))
            assert status == 202, body
            made[name] = DeadLetter(tenant, body["event_id"], transaction_id)
        for letter in made.values():
            wait_for(lambda: sut.event_status(letter.tenant.id, letter.event_id) == "dead_lettered", timeout=60,
                     interval=0.2, what=f"{letter.transaction_id} dead-lettered")
    finally:
        sut.start("identifier_service")
    return made


@pytest.fixture
def new_page(browser, request, tmp_path, dashboard) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh context (no cookies) on the dashboard: `new_page(locale="en-US")`, with
    `clipboard=True` allowed to read and write the clipboard. On a failing test each page's screenshot is
    saved in the test's tmp dir (its path is printed)."""
    contexts: list[BrowserContext] = []

    def open_page(locale: str = TEXTS["es"].locale, *, clipboard: bool = False) -> Page:
        context = browser.new_context(locale=locale, base_url=dashboard.base_url,
                                      viewport={"width": 1200, "height": 800})
        if clipboard:
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dashboard.base_url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    failed = any(getattr(request.node, f"report_{when}", None) is not None
                 and getattr(request.node, f"report_{when}").failed for when in ("setup", "call"))
    for number, context in enumerate(contexts):
        if failed:
            for index, page in enumerate(context.pages):
                path = tmp_path / f"failure-{number}-{index}.png"
                try:
                    page.screenshot(path=path, full_page=True)
                    print(f"screenshot of {page.url}: {path}")
                except Exception as exc:  # the page may be gone; the test's own failure matters more
                    print(f"no screenshot of {page.url}: {exc}")
        context.close()


@pytest.fixture
def page(new_page) -> Page:
    """A page in a fresh Spanish (es-ES) context on the dashboard."""
    return new_page()
