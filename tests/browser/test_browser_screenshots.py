"""The screenshots of docs/dashboard.md, taken of the real pages on the whole system: Webhooks with a secret
just created (its value blurred), the events with an assigned test sale, the refused requests, the dead
letters. With UPDATE_SCREENSHOTS=1 they are written to docs/images/ (then look at them before
committing); otherwise the same steps run and write into the test's tmp dir, so the pages the guide shows
keep being exercised either way.

    UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser/test_browser_screenshots.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from browser_support import DEAD_LETTERS_PATH, EVENTS_PATH, REFUSED_PATH, reload_until, sale, sign_in
from playwright.sync_api import Page, expect

from devstack.system import REPO_ROOT

IMAGES = REPO_ROOT / "docs" / "images"
MAX_BYTES = 150_000


def save(page: Page, directory: Path, name: str, *, height: int | None = None) -> Path:
    """The whole page (or its top `height` pixels) as `name`.png in `directory`, kept small."""
    path = directory / f"{name}.png"
    clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height} if height else None
    page.screenshot(path=path, full_page=True, clip=clip, animations="disabled", caret="hide")
    assert path.stat().st_size < MAX_BYTES, f"{path}: {path.stat().st_size} bytes (at most {MAX_BYTES})"
    return path


def test_the_guides_screenshots_of_the_main_pages(page, dashboard, dead_letters, tmp_path):
    directory = IMAGES if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    letter = dead_letters["screenshot"]  # tenant "acme", with one dead letter
    tenant, sut = letter.tenant, dashboard.sut
    assert sut.post(tenant.id, sale("FACT-00124"), {"Content-Type": "application/json",
                                                    "X-Autentikapp-Signature": "0" * 64})[0] == 401
    assert sut.send(tenant.id, tenant.secret, sale(without="transaction_id"))[0] == 422
    sign_in(page, dashboard.create_user(tenant=tenant, email="ana@acme.example"))

    page.get_by_role("button", name="Crear una clave nueva", exact=True).click()
    secret = page.get_by_role("textbox", name="Su nueva clave secreta", exact=True)
    expect(secret).to_have_value(re.compile(r"^whsec_\S{20,}$"))
    secret.evaluate("field => { field.style.filter = 'blur(5px)' }")  # a throwaway system's, but still a secret
    shots = [save(page, directory, "dashboard-webhooks", height=1080)]  # down to the secrets' table

    page.get_by_role("button", name="Enviar una venta de prueba", exact=True).click()
    expect(page.locator("#event-status")).to_have_text("Procesado", timeout=60_000)
    page.goto(EVENTS_PATH)
    expect(page.locator("tbody tr[data-event-id]")).to_have_count(2)  # the test sale, and the dead letter's
    expect(page.locator(".outcome-assigned")).to_have_text("asignado")
    shots.append(save(page, directory, "dashboard-events"))

    page.goto(REFUSED_PATH)
    reload_until(page, lambda: page.locator("tbody tr[data-code]").count() == 2, what="both refusals listed")
    shots.append(save(page, directory, "dashboard-refused"))

    page.goto(DEAD_LETTERS_PATH)
    expect(page.locator(f"tr[data-event-id='{letter.event_id}']")).to_be_visible()
    shots.append(save(page, directory, "dashboard-dead-letters"))
    for shot in shots:
        print(f"{shot}: {shot.stat().st_size} bytes")

