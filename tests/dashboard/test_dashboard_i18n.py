"""The message catalogue and how a language is chosen."""

from __future__ import annotations

import re

import pytest

from dashboard import i18n


def test_both_catalogues_have_the_same_keys_and_placeholders():
    es, en = i18n.MESSAGES["es"], i18n.MESSAGES["en"]
    assert set(es) == set(en)
    for key in es:
        assert set(re.findall(r"{(\w+)}", es[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_every_key_the_code_and_templates_use_exists():
    from pathlib import Path

    root = Path(i18n.__file__).parent
    used = set()
    for path in [*root.rglob("*.py"), *root.rglob("*.html")]:
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_-]+)['"]\s*[,)]""", path.read_text()))
    assert used and used <= set(i18n.MESSAGES["es"]), sorted(used - set(i18n.MESSAGES["es"]))


def test_every_key_built_from_a_value_exists():
    from dashboard.gateway_api import GUIDE, STANDARD_WEBHOOKS
    from dashboard.users import ROLES

    built = {f"role_{role}" for role in ROLES} | {f"scheme_{s}" for s in (GUIDE, STANDARD_WEBHOOKS)}
    assert built <= set(i18n.MESSAGES["es"])


@pytest.mark.parametrize("header, expected", [
    ("en-US,en;q=0.9", "en"),
    ("es-CO,es;q=0.9,en;q=0.8", "es"),
    ("fr-FR,en;q=0.5,es;q=0.7", "es"),
    ("de, fr", None),
    ("en;q=0", None),
    ("en;q=abc, es", "es"),
    ("", None),
    (None, None),
])
def test_accept_language_picks_the_preferred_supported_language(header, expected):
    assert i18n.from_accept_language(header) == expected


def test_choose_takes_the_first_supported_candidate_else_spanish():
    assert i18n.choose([None, "EN", "es"]) == "en"
    assert i18n.choose(["fr", None]) == "es"
