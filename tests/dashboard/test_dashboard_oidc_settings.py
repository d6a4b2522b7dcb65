"""Single sign-on's settings from the environment: off by default, each refusal names its variable, and
the client secret never shows (repr, error messages)."""

from __future__ import annotations

import pytest

from common.config import ConfigError
from dashboard.settings import OIDC_VARIABLES, DashboardSettings, OidcSettings

SECRET = "very-secret-value"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (*OIDC_VARIABLES, "DASHBOARD_PUBLIC_URL", "DASHBOARD_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def configured(monkeypatch):
    monkeypatch.setenv("DASHBOARD_OIDC_ISSUER", "https://login.acme.example/realms/staff")
    monkeypatch.setenv("DASHBOARD_OIDC_CLIENT_ID", "autentikapp-dashboard")
    monkeypatch.setenv("DASHBOARD_OIDC_CLIENT_SECRET", SECRET)


def test_off_unless_an_issuer_is_set():
    settings = DashboardSettings.from_env()
    assert settings.oidc is None and settings.dashboard_url == ""


def test_a_full_configuration_and_its_defaults(configured, monkeypatch):
    monkeypatch.setenv("DASHBOARD_PUBLIC_URL", "https://dashboard.example.test/")
    settings = DashboardSettings.from_env()
    assert settings.oidc == OidcSettings("https://login.acme.example/realms/staff", "autentikapp-dashboard", SECRET,
                                         "openid email", "SSO")
    assert settings.dashboard_url == "https://dashboard.example.test"
    assert SECRET not in repr(settings)


def test_scopes_and_label_can_be_chosen(configured, monkeypatch):
    monkeypatch.setenv("DASHBOARD_OIDC_SCOPES", "openid  email profile")
    monkeypatch.setenv("DASHBOARD_OIDC_BUTTON_LABEL", "Acme Google")
    oidc = OidcSettings.from_env()
    assert (oidc.scopes, oidc.button_label) == ("openid email profile", "Acme Google")


def test_the_secret_can_come_from_a_file(configured, monkeypatch, tmp_path):
    path = tmp_path / "client-secret"
    path.write_text(SECRET + "\n")
    monkeypatch.delenv("DASHBOARD_OIDC_CLIENT_SECRET")
    monkeypatch.setenv("DASHBOARD_OIDC_CLIENT_SECRET_FILE", str(path))
    assert OidcSettings.from_env().client_secret == SECRET


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:8443", "http://localhost/realms/x"])
def test_plain_http_is_allowed_on_loopback_only(configured, monkeypatch, issuer):
    monkeypatch.setenv("DASHBOARD_OIDC_ISSUER", issuer)
    assert OidcSettings.from_env().issuer == issuer


@pytest.mark.parametrize("variable, value, unset, named", [
    ("DASHBOARD_OIDC_ISSUER", "http://login.acme.example", None, "DASHBOARD_OIDC_ISSUER"),
    ("DASHBOARD_OIDC_ISSUER", "ftp://login.acme.example", None, "DASHBOARD_OIDC_ISSUER"),
    ("DASHBOARD_OIDC_ISSUER", "https://login.acme.example?tenant=1", None, "DASHBOARD_OIDC_ISSUER"),
    ("DASHBOARD_OIDC_ISSUER", "https://", None, "DASHBOARD_OIDC_ISSUER"),
    ("DASHBOARD_OIDC_ISSUER", "https://a.example:port", None, "DASHBOARD_OIDC_ISSUER"),
    ("DASHBOARD_OIDC_SCOPES", "email profile", None, "DASHBOARD_OIDC_SCOPES"),
    ("DASHBOARD_OIDC_BUTTON_LABEL", "x" * 41, None, "DASHBOARD_OIDC_BUTTON_LABEL"),
    ("DASHBOARD_OIDC_SCOPES", "openid email", "DASHBOARD_OIDC_CLIENT_ID", "DASHBOARD_OIDC_CLIENT_ID"),
    ("DASHBOARD_OIDC_SCOPES", "openid email", "DASHBOARD_OIDC_CLIENT_SECRET", "DASHBOARD_OIDC_CLIENT_SECRET"),
    ("DASHBOARD_OIDC_CLIENT_SECRET_FILE", "/nonexistent/secret", None, "DASHBOARD_OIDC_CLIENT_SECRET_FILE"),
    ("DASHBOARD_PUBLIC_URL", "ftp://dashboard.example.test", None, "DASHBOARD_PUBLIC_URL"),
])
def test_a_bad_value_is_refused_naming_its_variable(configured, monkeypatch, variable, value, unset, named):
    monkeypatch.setenv(variable, value)
    if unset:
        monkeypatch.delenv(unset)
    with pytest.raises(ConfigError, match=named) as refused:
        DashboardSettings.from_env()
    assert SECRET not in str(refused.value)


def test_both_secret_variables_are_refused_without_showing_either(configured, monkeypatch, tmp_path):
    path = tmp_path / "client-secret"
    path.write_text("another-secret")
    monkeypatch.setenv("DASHBOARD_OIDC_CLIENT_SECRET_FILE", str(path))
    with pytest.raises(ConfigError, match="set one, not both") as refused:
        OidcSettings.from_env()
    assert SECRET not in str(refused.value) and "another-secret" not in str(refused.value)


def test_an_empty_secret_file_is_refused(configured, monkeypatch, tmp_path):
    path = tmp_path / "client-secret"
    path.write_text("\n")
    monkeypatch.delenv("DASHBOARD_OIDC_CLIENT_SECRET")
    monkeypatch.setenv("DASHBOARD_OIDC_CLIENT_SECRET_FILE", str(path))
    with pytest.raises(ConfigError, match="DASHBOARD_OIDC_CLIENT_SECRET_FILE"):
        OidcSettings.from_env()


def test_a_client_id_without_an_issuer_is_refused_rather_than_ignored(monkeypatch):
    monkeypatch.setenv("DASHBOARD_OIDC_CLIENT_ID", "autentikapp-dashboard")
    with pytest.raises(ConfigError, match="DASHBOARD_OIDC_ISSUER"):
        DashboardSettings.from_env()
