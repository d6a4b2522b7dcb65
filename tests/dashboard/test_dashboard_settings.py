"""The dashboard's settings from the environment: defaults, the database fallback, refusals naming the variable."""

from __future__ import annotations

import pytest

from common.config import ConfigError
from common.config import DASHBOARD_DEFAULT_PORT
from dashboard.settings import DashboardSettings

VARIABLES = ("DASHBOARD_DATABASE_URL", "DATABASE_URL", "DASHBOARD_PORT", "DASHBOARD_SECURE_COOKIES",
             "DASHBOARD_SESSION_LIFETIME_SECONDS", "DASHBOARD_LOGIN_MAX_FAILURES", "PUBLIC_BASE_URL",
             "DASHBOARD_TRUSTED_PROXIES", "GATEWAY_ADMIN_ADDR", "PROCESSOR_ADDR")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_safe():
    settings = DashboardSettings.from_env()
    assert settings.port == DASHBOARD_DEFAULT_PORT == 8090
    assert settings.secure_cookies is True
    assert (settings.login.account_failures, settings.login.lockout_seconds) == (5, 900)
    assert settings.trusted_proxies == 0


def test_its_own_database_variable_wins_over_database_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://shared@db/all")
    assert DashboardSettings.from_env().database_url == "postgresql://shared@db/all"
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", "postgresql://dash@db/dashboard")
    assert DashboardSettings.from_env().database_url == "postgresql://dash@db/dashboard"


def test_make_run_turns_secure_cookies_off(monkeypatch):
    monkeypatch.setenv("DASHBOARD_SECURE_COOKIES", "false")
    assert DashboardSettings.from_env().secure_cookies is False


@pytest.mark.parametrize("variable, value", [
    ("DASHBOARD_PORT", "http"),
    ("DASHBOARD_SECURE_COOKIES", "maybe"),
    ("DASHBOARD_SESSION_LIFETIME_SECONDS", "5"),
    ("DASHBOARD_LOGIN_MAX_FAILURES", "0"),
    ("PUBLIC_BASE_URL", "ftp://example.test"),
    ("DASHBOARD_DATABASE_URL", "mysql://db/x"),
    ("GATEWAY_ADMIN_ADDR", "no-port"),
    ("PROCESSOR_ADDR", "host:http"),
])
def test_a_bad_value_is_refused_naming_its_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        DashboardSettings.from_env()
