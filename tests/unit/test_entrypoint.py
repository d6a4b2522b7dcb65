"""The one entry-point shape (common.entrypoint): the command line, the order of its steps, and how each
expected start-up failure becomes one line and an exit code. Fake processes; no I/O."""

from __future__ import annotations

import dataclasses

import nats.errors
import psycopg
import pytest

from common import entrypoint
from common.config import ConfigError, ProcessSettings
from common.errors import Unavailable
from common.migrations import MigrationError


def settings(**overrides) -> ProcessSettings:
    """Shared settings with a password in the database URL (it must never be printed)."""
    values = dict(database_url="postgresql://app:s3cret@db:5432/x", log_level="INFO", log_format="text",
                  metrics_port=0, grace_seconds=1.0, migrate_on_start=True, bind_host="127.0.0.1")
    return ProcessSettings(**{**values, **overrides})


def fake(steps: list[str], *, read=None, migrate_error: Exception | None = None,
         serve_error: Exception | None = None) -> entrypoint.Process:
    """A process that records its steps and fails where told."""

    def read_settings():
        steps.append("read")
        return read() if read else settings()

    def migrate(_settings):
        steps.append("migrate")
        if migrate_error:
            raise migrate_error
        return []

    def serve(_settings):
        steps.append("serve")
        if serve_error:
            raise serve_error

    return entrypoint.Process("fakeproc", "A fake.", read_settings, migrate, serve)


def test_serve_is_the_default_and_migrates_first():
    steps: list[str] = []
    assert entrypoint.main(fake(steps), []) == 0
    assert steps == ["read", "migrate", "serve"]


def test_migrate_only_migrates_even_when_migrate_on_start_is_off():
    steps: list[str] = []
    assert entrypoint.main(fake(steps, read=lambda: settings(migrate_on_start=False)), ["migrate"]) == 0
    assert steps == ["read", "migrate"]


def test_serve_skips_the_migrations_when_migrate_on_start_is_off():
    steps: list[str] = []
    assert entrypoint.main(fake(steps, read=lambda: settings(migrate_on_start=False)), ["serve"]) == 0
    assert steps == ["read", "serve"]


def test_an_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        entrypoint.main(fake([]), ["run"])
    assert exited.value.code == 2 and "invalid choice: 'run'" in capsys.readouterr().err


def test_a_bad_setting_exits_2_naming_the_variable_before_anything_starts(capsys):
    steps: list[str] = []

    def refuse():
        raise ConfigError("LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'")

    assert entrypoint.main(fake(steps, read=refuse), []) == 2
    assert steps == ["read"]
    assert capsys.readouterr().err == ("fakeproc: configuration error: LOG_LEVEL: expected one of DEBUG, INFO, "
                                       "WARNING, ERROR, CRITICAL, got 'LOUD'\n")


@pytest.mark.parametrize("error, code, line", [
    (Unavailable("cannot connect to Postgres at postgresql://app:***@db:5432/x"), 1,
     "fakeproc: cannot connect to Postgres at postgresql://app:***@db:5432/x"),
    (MigrationError("migration 001_x was edited after it was applied; add a new migration instead"), 1,
     "fakeproc: migration 001_x was edited after it was applied; add a new migration instead"),
    (psycopg.errors.InsufficientPrivilege("permission denied for schema public"), 1,
     "fakeproc: cannot use the database postgresql://app:***@db:5432/x: InsufficientPrivilege"),
    (OSError(98, "Address already in use"), 1, "fakeproc: [Errno 98] Address already in use"),
    (ConfigError("GATEWAY_ENCRYPTION_KEYS: required"), 2, "fakeproc: configuration error: GATEWAY_ENCRYPTION_KEYS: required"),
])
@pytest.mark.parametrize("step", ["migrate", "serve"])
def test_an_expected_start_up_failure_is_one_line_without_the_password(capsys, step, error, code, line):
    process = fake([], **{f"{step}_error": error})
    assert entrypoint.main(process, []) == code
    err = capsys.readouterr().err
    assert err == line + "\n" and "s3cret" not in err


def test_nats_unreachable_names_the_servers_without_passwords(capsys):
    @dataclasses.dataclass(frozen=True)
    class WithBus(ProcessSettings):
        bus: object

    bus = type("Bus", (), {"url_for_logs": "nats://u:***@a:4222,nats://b:4222"})()
    process = fake([], read=lambda: WithBus(**dataclasses.asdict(settings()), bus=bus),
                   serve_error=nats.errors.NoServersError())
    assert entrypoint.main(process, []) == 1
    assert capsys.readouterr().err == "fakeproc: NATS at nats://u:***@a:4222,nats://b:4222: NoServersError\n"


def test_a_bug_is_raised_not_hidden():
    with pytest.raises(ZeroDivisionError):
        entrypoint.main(fake([], serve_error=ZeroDivisionError()), [])
