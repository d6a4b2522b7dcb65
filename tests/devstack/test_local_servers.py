"""devstack against real servers: the local Postgres and NATS start, survive kills, and clean up;
the process group reports dead children and stops stubborn ones; Infrastructure wires the env."""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
import sys
from pathlib import Path

import nats
import psycopg
import pytest

from common import nats_permissions
from devstack import system
from devstack._proc import DirInUse
from devstack.nats import LocalNats, NatsError
from devstack.ports import free_port
from devstack.postgres import LocalPostgres
from devstack.processes import ChildExited, ChildNotReady, ProcessGroup
from devstack.ready import http_ok
from devstack.stack import SERVICE_DATABASES, Infrastructure, InfrastructureError, redact_url, with_database


@pytest.fixture(scope="module")
def pg(tmp_path_factory) -> LocalPostgres:
    """One non-durable Postgres for this module (initdb costs about a second)."""
    server = LocalPostgres(tmp_path_factory.mktemp("devstack-pg"), durable=False)
    with server:
        yield server
    assert not server.is_running()


@pytest.fixture
def local_nats(tmp_path) -> LocalNats:
    server = LocalNats(tmp_path / "nats")
    with server:
        yield server


# -- Postgres -----------------------------------------------------------------------------------

def test_postgres_listens_on_tcp_and_creates_databases_idempotently(pg):
    assert pg.url() == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
    assert pg.create_database("devstack_probe") == pg.url("devstack_probe")
    assert pg.create_database("devstack_probe") == pg.url("devstack_probe")  # second time: no error
    with psycopg.connect(pg.url("devstack_probe")) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), current_setting('max_connections'),"
            " current_setting('fsync'), current_setting('synchronous_commit')").fetchone()
    assert row == ("postgres", "devstack_probe", "200", "off", "on")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has to hand the server to another user")
def test_postgres_under_root_runs_as_nobody(pg):
    nobody = pwd.getpwnam("nobody").pw_uid
    assert pg.pgdata.stat().st_uid == nobody
    with psycopg.connect(pg.url()) as conn:
        backend_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert Path(f"/proc/{backend_pid}").stat().st_uid == nobody


def test_postgres_keeps_committed_data_across_kill_and_restart(pg):
    url = pg.create_database("devstack_crash")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (x int)")
        conn.execute("INSERT INTO t VALUES (42)")
    survivor = psycopg.connect(url)
    pg.kill()
    assert not pg.is_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    pg.start()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(42,)]
    with pytest.raises(psycopg.OperationalError):
        survivor.execute("SELECT 1")  # a connection from before the crash is dead, as in production
    survivor.close()
    port = pg.port
    pg.restart()
    assert pg.port == port and pg.is_running()


def test_postgres_refuses_a_data_dir_owned_by_a_live_session(pg):
    with pytest.raises(DirInUse):
        LocalPostgres(pg.data_dir, durable=False).start()
    assert pg.is_running()


# -- NATS ---------------------------------------------------------------------------------------

async def _publish(url: str, count: int) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="DEVSTACK", subjects=["devstack.>"])
        for i in range(count):
            ack = await js.publish("devstack.test", f"m{i}".encode(), headers={"Nats-Msg-Id": f"id-{i}"})
            assert ack.seq == i + 1
    finally:
        await nc.close()


async def _stored(url: str) -> tuple[int, bytes]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("DEVSTACK")
        last = await js.get_msg("DEVSTACK", info.state.last_seq)
        return info.state.messages, last.data
    finally:
        await nc.close()


def test_nats_jetstream_state_survives_kill_and_restart(local_nats):
    assert local_nats.url == f"nats://127.0.0.1:{local_nats.port}"
    asyncio.run(_publish(local_nats.url, 3))
    local_nats.kill()
    assert not local_nats.is_running()
    local_nats.start()
    assert asyncio.run(_stored(local_nats.url)) == (3, b"m2")
    local_nats.restart()
    assert asyncio.run(_stored(local_nats.url)) == (3, b"m2")


def test_nats_start_failure_explains_itself_with_the_log(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = LocalNats(tmp_path / "nats", port=taken.getsockname()[1])
        with pytest.raises(NatsError, match="exited with code .* while starting") as excinfo:
            server.start(timeout=10)
    assert "last lines of" in str(excinfo.value)
    assert not server.is_running()


# -- processes ----------------------------------------------------------------------------------

def test_process_group_waits_for_ready_logs_and_stops(tmp_path):
    port = free_port()
    group = ProcessGroup(tmp_path / "logs", grace=5)
    with group:
        child = group.start("web", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                            {"DEVSTACK_PROBE": "1"}, ready=http_ok(f"http://127.0.0.1:{port}/"), ready_timeout=10)
        assert child.is_running() and group.exited() is None
        group.check()
    assert not child.is_running()
    assert group.exited() is None  # stopped on purpose: not an early exit
    assert "GET / HTTP" in (tmp_path / "logs" / "web.log").read_text()


def test_process_group_reports_a_child_that_dies_before_ready(tmp_path):
    with ProcessGroup(tmp_path / "logs") as group:
        with pytest.raises(ChildExited, match=r"(?s)crashy exited with code 3.*boom"):
            group.start("crashy", [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
                        ready=lambda: False, ready_timeout=10)


def test_process_group_reports_a_child_that_dies_later_and_one_never_ready(tmp_path):
    with ProcessGroup(tmp_path / "logs", grace=1) as group:
        group.start("short", [sys.executable, "-c", "import time; time.sleep(0.3); print('bye')"])
        with pytest.raises(ChildNotReady, match="slow not ready after"):
            group.start("slow", [sys.executable, "-c", "import time; time.sleep(30)"],
                        ready=lambda: False, ready_timeout=0.5)
        assert group.exited() is group["short"]
        with pytest.raises(ChildExited, match=r"(?s)short exited with code 0.*bye"):
            group.check()


def test_process_group_kills_a_child_that_ignores_sigterm(tmp_path):
    log = tmp_path / "logs" / "stubborn.log"
    # The marker is built at run time: the log's header line already holds the script's text.
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ar' + 'med'); time.sleep(60)"
    group = ProcessGroup(tmp_path / "logs", grace=0.5)
    group.start("stubborn", [sys.executable, "-c", script], ready=lambda: "armed" in log.read_text())
    assert group.stop("stubborn") == -9


# -- Infrastructure -----------------------------------------------------------------------------

def test_infrastructure_uses_given_servers_and_per_service_overrides(tmp_path, pg, local_nats):
    environ = {
        "NATS_URL": local_nats.url,
        "DATABASE_URL": pg.url(),
        "GATEWAY_DATABASE_URL": "postgresql://gw:secret@db.example:5433/gw",
    }
    with Infrastructure(tmp_path / "run", durable=False, environ=environ) as infra:
        env = infra.env()
        assert infra.nats is None and infra.postgres is None  # nothing started here
    assert env.pop("GATEWAY_ENCRYPTION_KEYS") == (tmp_path / "run" / "gateway-encryption-keys").read_text().strip()
    assert env == {
        "NATS_URL": local_nats.url,
        "CUSTOMER_SERVICE_DATABASE_URL": pg.url("autentikapp_customers"),
        "IDENTIFIER_SERVICE_DATABASE_URL": pg.url("autentikapp_identifiers"),
        "GATEWAY_DATABASE_URL": "postgresql://gw:secret@db.example:5433/gw",
        "PROCESSOR_DATABASE_URL": pg.url("autentikapp_processor"),
        "DASHBOARD_DATABASE_URL": pg.url("autentikapp_dashboard"),
    }
    with psycopg.connect(pg.url()) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert {"autentikapp_customers", "autentikapp_identifiers", "autentikapp_processor",
            "autentikapp_dashboard"} <= names
    assert "autentikapp_gateway" not in names


def test_infrastructure_starts_what_is_missing_and_stops_it(tmp_path):
    infra = Infrastructure(tmp_path / "run", durable=False, environ={}).start()
    try:
        env = infra.env()
        # The NATS it starts has the system's users: each process gets its own password (NATS_PASSWORD_*).
        passwords = {nats_permissions.password_variable(user) for user in nats_permissions.USERS}
        assert set(env) == {"NATS_URL", *SERVICE_DATABASES, "GATEWAY_ENCRYPTION_KEYS", *passwords}
        assert infra.nats is not None and env["NATS_URL"] == infra.nats.client_url
        assert infra.nats_admin_url == infra.nats.url != infra.nats.client_url
        for name, dbname in SERVICE_DATABASES.items():
            with psycopg.connect(env[name]) as conn:
                assert conn.execute("SELECT current_database()").fetchone()[0] == dbname
        nats_server, postgres_server = infra.nats, infra.postgres
    finally:
        infra.stop()
    assert not nats_server.is_running() and not postgres_server.is_running()


def test_the_development_key_is_kept_private_and_reused_and_a_given_key_wins(tmp_path):
    from devstack import dev_keys
    from gateway import encryption_keys

    first = dev_keys.ensure(tmp_path / "run")
    path = dev_keys.key_file(tmp_path / "run")
    assert encryption_keys.parse(first).key_ids == ("dev-local",)
    assert path.stat().st_mode & 0o777 == 0o600
    assert dev_keys.ensure(tmp_path / "run") == first  # the local data stays readable across runs
    path.write_text("dev-local:not-base64\n")
    with pytest.raises(dev_keys.DevKeyError, match="gateway-encryption-keys") as excinfo:
        dev_keys.ensure(tmp_path / "run")
    assert "not-base64" not in str(excinfo.value)
    given = encryption_keys.new_entry("given")
    assert system.child_environment({"GATEWAY_ENCRYPTION_KEYS": given}, {})["GATEWAY_ENCRYPTION_KEYS"] == given
    fresh = system.child_environment({}, {})["GATEWAY_ENCRYPTION_KEYS"]
    assert fresh != system.child_environment({}, {})["GATEWAY_ENCRYPTION_KEYS"]  # one per system in tests
    assert encryption_keys.parse(fresh).key_ids == ("dev-ephemeral",)


def test_url_helpers_keep_credentials_but_never_print_them():
    url = "postgresql://app:s3cret@db.example:5433/postgres?sslmode=require"
    assert with_database(url, "autentikapp_customers") == \
        "postgresql://app:s3cret@db.example:5433/autentikapp_customers?sslmode=require"
    assert redact_url(url) == "postgresql://app:***@db.example:5433/postgres?sslmode=require"
    assert redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_infrastructure_names_an_unusable_database_url_without_its_password(tmp_path, local_nats):
    environ = {"NATS_URL": local_nats.url, "DATABASE_URL": f"postgresql://u:hunter2@127.0.0.1:{free_port()}/x"}
    with pytest.raises(InfrastructureError, match=r"autentikapp_customers on postgresql://u:\*\*\*@") as excinfo:
        Infrastructure(tmp_path / "run", environ=environ).start()
    assert "hunter2" not in str(excinfo.value)


def test_each_process_gets_its_own_metrics_port_only_where_one_is_chosen():
    from devstack import __main__ as devstack_main

    assert system.child_environment({}, {})["METRICS_PORT"] == "0", "a process started otherwise serves none"
    default = system.spec("processor").metrics_default_port
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", default))
            taken.listen()
        except OSError:
            pass  # someone else holds it: taken just the same
        ports = devstack_main._metrics_ports()
    assert ports["processor"] != default, "make run replaces a taken default with a free port"
    assert len(set(ports.values())) == len(system.PROCESSES)


def test_a_key_kept_under_the_former_file_name_is_taken_over_so_the_local_data_stays_readable(tmp_path):
    from devstack import dev_keys
    from gateway import encryption_keys

    kept = encryption_keys.new_entry("dev-local")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / dev_keys.FORMER_FILE_NAME).write_text(kept + "\n")
    assert dev_keys.ensure(tmp_path / "run") == kept
    assert dev_keys.key_file(tmp_path / "run").read_text().strip() == kept
    assert not (tmp_path / "run" / dev_keys.FORMER_FILE_NAME).exists()


def test_free_ports_are_below_the_kernels_ephemeral_range_and_never_twice():
    """An outgoing connection (a client of Postgres, NATS or gRPC) takes its local port from the ephemeral
    range, so a port picked there could be gone before the server meant for it binds it."""
    from devstack import ports

    picked = [free_port() for _ in range(200)]
    assert len(set(picked)) == len(picked)
    assert all(ports.LOWEST <= port < ports._ephemeral_start() for port in picked)
