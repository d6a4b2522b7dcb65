"""Configuration is validated at start, and a bad value names its variable."""

from __future__ import annotations

import pytest

from common import config


def test_bad_database_url_names_the_variable(monkeypatch):
    monkeypatch.setenv("CUSTOMER_SERVICE_DATABASE_URL", "mysql://localhost/x")
    with pytest.raises(config.ConfigError, match=r"^CUSTOMER_SERVICE_DATABASE_URL: expected a postgres:// or postgresql:// URL"):
        config.ServiceSettings.from_env("CUSTOMER_SERVICE", 50051)


def test_service_url_falls_back_to_database_url(monkeypatch):
    monkeypatch.delenv("CUSTOMER_SERVICE_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    assert config.ServiceSettings.from_env("CUSTOMER_SERVICE", 50051).database_url == "postgresql://u@db:5432/x"


def test_password_is_not_echoed(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:s3cret@db:notaport/x")
    monkeypatch.delenv("CUSTOMER_SERVICE_DATABASE_URL", raising=False)
    with pytest.raises(config.ConfigError) as caught:
        config.database_url("CUSTOMER_SERVICE_DATABASE_URL")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("name,value,message", [
    ("CUSTOMER_SERVICE_PORT", "http", "expected an integer"),
    ("CUSTOMER_SERVICE_PORT", "70000", "must be <= 65535"),
    ("MIGRATE_ON_START", "maybe", "expected true or false"),
])
def test_bad_values_fail_fast(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=f"^{name}: {message}"):
        config.ServiceSettings.from_env("CUSTOMER_SERVICE", 50051)


def test_nats_url_and_grpc_address(monkeypatch):
    monkeypatch.setenv("NATS_URL", "nats://a:4222,nats://b:4222")
    assert config.nats_url() == "nats://a:4222,nats://b:4222"
    monkeypatch.setenv("NATS_URL", "http://a:4222")
    with pytest.raises(config.ConfigError, match="^NATS_URL"):
        config.nats_url()
    monkeypatch.setenv("CUSTOMER_SERVICE_ADDR", "nohost")
    with pytest.raises(config.ConfigError, match="^CUSTOMER_SERVICE_ADDR: expected host:port"):
        config.grpc_address("CUSTOMER_SERVICE_ADDR", 50051)
