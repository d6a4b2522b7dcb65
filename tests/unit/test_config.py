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


def _every_process_settings():
    """Each process's settings, read from the environment as its entry point reads them."""
    from customer_service.process import PROCESS as customer_service
    from dashboard.settings import DashboardSettings
    from gateway.settings import GatewaySettings
    from gateway_admin.settings import GatewayAdminSettings
    from identifier_service.process import PROCESS as identifier_service
    from processor.settings import ProcessorSettings

    return {"customer_service": customer_service.read_settings, "identifier_service": identifier_service.read_settings,
            "gateway": GatewaySettings.from_env, "processor": ProcessorSettings.from_env,
            "dashboard": DashboardSettings.from_env, "gateway_admin": GatewayAdminSettings.from_env}


@pytest.mark.parametrize("process", ["customer_service", "identifier_service", "gateway", "processor"])
@pytest.mark.parametrize("name,value,message", [
    ("LOG_LEVEL", "loud", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
    ("LOG_FORMAT", "yaml", "expected one of text, json, got 'yaml'"),
    ("SHUTDOWN_GRACE_SECONDS", "soon", "expected a number"),
    ("METRICS_PORT", "-1", "must be >= 0"),
])
def test_every_process_checks_the_shared_settings_the_same_way(monkeypatch, process, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=f"^{name}: {message}"):
        _every_process_settings()[process]()


@pytest.mark.parametrize("process", ["customer_service", "identifier_service", "gateway", "processor"])
def test_every_process_reads_the_shared_settings_the_same_way(monkeypatch, process):
    for name, value in {"LOG_LEVEL": "debug", "LOG_FORMAT": "JSON", "SHUTDOWN_GRACE_SECONDS": "3.5",
                        "MIGRATE_ON_START": "no", "BIND_HOST": "127.0.0.1", "METRICS_PORT": "0"}.items():
        monkeypatch.setenv(name, value)
    settings = _every_process_settings()[process]()
    assert isinstance(settings, config.ProcessSettings)
    assert (settings.log_level, settings.log_format, settings.grace_seconds, settings.migrate_on_start,
            settings.bind_host, settings.metrics_port) == ("DEBUG", "json", 3.5, False, "127.0.0.1", 0)


@pytest.mark.parametrize("process,port", sorted(config.METRICS_DEFAULT_PORTS.items()))
def test_each_process_has_its_own_default_metrics_port(monkeypatch, process, port):
    from gateway import encryption_keys

    monkeypatch.delenv("METRICS_PORT", raising=False)
    monkeypatch.setenv(encryption_keys.ENV_VAR, encryption_keys.new_entry("k1"))  # gateway_admin unseals secrets
    assert _every_process_settings()[process]().metrics_port == port


def test_nats_credentials_come_from_the_environment_or_a_file(monkeypatch, tmp_path):
    from common import bus

    monkeypatch.setenv("NATS_USER", "gateway")
    monkeypatch.setenv("NATS_PASSWORD", "from-env")
    assert (bus.BusSettings.from_env().user, bus.BusSettings.from_env().password) == ("gateway", "from-env")
    secret = tmp_path / "password"
    secret.write_text("from-file\n")
    monkeypatch.setenv("NATS_PASSWORD_FILE", str(secret))
    with pytest.raises(config.ConfigError, match="set one, not both"):
        bus.BusSettings.from_env()
    monkeypatch.delenv("NATS_PASSWORD")
    assert bus.BusSettings.from_env().password == "from-file"
    assert "from-file" not in repr(bus.BusSettings.from_env())
    monkeypatch.delenv("NATS_USER")
    with pytest.raises(config.ConfigError, match="go together"):
        bus.BusSettings.from_env()
