"""The processor's settings: defaults, fallbacks, and one line naming the variable for a bad value."""

from __future__ import annotations

import pytest

from common.config import ConfigError
from processor.settings import ProcessorSettings

VARIABLES = (
    "CUSTOMER_SERVICE_ADDR", "IDENTIFIER_SERVICE_ADDR", "NATS_URL", "PROCESSOR_DATABASE_URL", "DATABASE_URL",
    "PROCESSOR_BATCH_SIZE", "PROCESSOR_CONCURRENCY", "PROCESSOR_RPC_TIMEOUT_SECONDS", "PROCESSOR_RETRY_DELAYS",
    "PROCESSOR_FETCH_TIMEOUT_SECONDS", "PROCESSOR_UNEXPECTED_MAX_DELIVERIES", "PROCESSOR_POOL_MIN",
    "PROCESSOR_POOL_MAX", "SHUTDOWN_GRACE_SECONDS", "MIGRATE_ON_START", "LOG_LEVEL", "LOG_FORMAT", "BUS_MAX_DELIVER",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults():
    settings = ProcessorSettings.from_env()
    assert (settings.customer_service_addr, settings.identifier_service_addr) == ("localhost:50051", "localhost:50052")
    assert (settings.batch_size, settings.concurrency, settings.rpc_timeout_seconds) == (128, 256, 5.0)
    assert settings.retry_delays == (1, 2, 5, 10, 30, 60)
    assert (settings.grace_seconds, settings.migrate_on_start, settings.unexpected_max_deliveries) == (10.0, True, 3)
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/postgres"
    assert settings.bus.max_deliver == 20


def test_database_url_falls_back_to_database_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    assert ProcessorSettings.from_env().database_url == "postgresql://u@db/x"
    monkeypatch.setenv("PROCESSOR_DATABASE_URL", "postgresql://u@db/processor")
    assert ProcessorSettings.from_env().database_url == "postgresql://u@db/processor"


def test_retry_delays_may_be_fractions(monkeypatch):
    monkeypatch.setenv("PROCESSOR_RETRY_DELAYS", " 0.2, 0.5 ,1")
    assert ProcessorSettings.from_env().retry_delays == (0.2, 0.5, 1.0)


@pytest.mark.parametrize("name,value,message", [
    ("PROCESSOR_BATCH_SIZE", "0", "must be >= 1"),
    ("PROCESSOR_CONCURRENCY", "many", "expected an integer"),
    ("PROCESSOR_RPC_TIMEOUT_SECONDS", "0", "must be >= 0.1"),
    ("PROCESSOR_RETRY_DELAYS", "1,,2", "expected comma-separated seconds"),
    ("PROCESSOR_RETRY_DELAYS", "1,-2", "every delay must be a finite number >= 0"),
    ("PROCESSOR_RETRY_DELAYS", "1,nan", "every delay must be a finite number >= 0"),
    ("PROCESSOR_DATABASE_URL", "mysql://db/x", "expected a postgres:// or postgresql:// URL"),
    ("CUSTOMER_SERVICE_ADDR", "nohost", "expected host:port"),
    ("NATS_URL", "http://x:4222", "expected a nats:// or tls:// URL"),
    ("LOG_LEVEL", "loud", "expected one of DEBUG"),
    ("SHUTDOWN_GRACE_SECONDS", "-1", "must be >= 0"),
])
def test_a_bad_value_names_its_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{name}: {message}"):
        ProcessorSettings.from_env()
