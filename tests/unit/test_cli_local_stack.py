"""``autentikapp`` inside a checkout finds the stack `make run` started, through ``.run/env`` (cli.local_stack).

The checkouts here are temporary directories with this project's pyproject.toml name; one test runs the
real console script from a subdirectory of such a checkout, with nothing about the stack in its environment.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import stat
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from tls_support import tls_files

import devstack.__main__ as devstack_main
from autentikapp.v1 import customer_pb2, customer_pb2_grpc
from cli import local_stack
from cli.main import main

KEY = "k1:c2VjcmV0LWtleS1ub3QtdG8tYmUtcHJpbnRlZC0xMjM0NTY3OA=="  # a value no output may contain
PASSWORD = "p@ss w'rd$(touch pwned)"
STACK_ENV = {
    "NATS_URL": "nats://127.0.0.1:14222",
    "PUBLIC_BASE_URL": "http://127.0.0.1:18080",
    "GATEWAY_ENCRYPTION_KEYS": KEY,
    "GATEWAY_DATABASE_URL": f"postgresql://app:{PASSWORD}@127.0.0.1:15432/gateway",
    "PROCESSOR_DATABASE_URL": "postgresql://app@127.0.0.1:15432/processor",
    "CUSTOMER_SERVICE_ADDR": "127.0.0.1:15051",
    "IDENTIFIER_SERVICE_ADDR": "127.0.0.1:15052",
}


def make_checkout(root: Path, env_text: str | None, *, name: str = local_stack.PROJECT_NAME) -> Path:
    """A directory that looks like a checkout of project `name`, with `.run/env` holding `env_text`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "0"\n')
    if env_text is not None:
        (root / ".run").mkdir()
        (root / ".run" / "env").write_text(env_text)
    return root


def env_text(variables: dict[str, str]) -> str:
    """What devstack writes: a comment, then `export NAME=<shell-quoted value>` lines."""
    lines = [f"export {k}={shlex.quote(v)}" for k, v in variables.items()]
    return "# written by `make run`\n" + "\n".join(lines) + "\n"


class Warnings(list):
    """The `warn` callback: collects the lines."""

    def __call__(self, message: str) -> None:
        self.append(message)


def test_found_from_a_subdirectory_of_the_checkout(tmp_path):
    """Walking up from a nested directory reaches the checkout's root and its `.run/env`."""
    checkout = make_checkout(tmp_path / "repo", env_text(STACK_ENV))
    nested = checkout / "cli" / "examples"
    nested.mkdir(parents=True)
    env: dict[str, str] = {"HOME": "/home/someone"}
    warnings = Warnings()

    found = local_stack.apply(env, warnings, nested)

    assert found is not None and found.path == checkout / ".run" / "env"
    assert env == {"HOME": "/home/someone", **STACK_ENV}
    assert found.applied == frozenset(STACK_ENV)
    assert warnings == []


def test_the_environment_wins_over_the_file(tmp_path):
    """A variable the environment sets is kept; one set empty counts as unset, as every reader treats it."""
    checkout = make_checkout(tmp_path, env_text(STACK_ENV))
    env = {"NATS_URL": "nats://elsewhere:4222", "CUSTOMER_SERVICE_ADDR": "  "}

    found = local_stack.apply(env, Warnings(), checkout)

    assert env["NATS_URL"] == "nats://elsewhere:4222"
    assert env["CUSTOMER_SERVICE_ADDR"] == STACK_ENV["CUSTOMER_SERVICE_ADDR"]
    assert not found.supplied("NATS_URL") and found.supplied("CUSTOMER_SERVICE_ADDR")


def test_a_variable_the_environment_sets_in_place_of_another_keeps_the_file_out(tmp_path):
    """DATABASE_URL (every *_DATABASE_URL's fallback) and GATEWAY_SECRETS_KEYS (the encryption key's former
    name) in the environment are choices the file's *_DATABASE_URL / GATEWAY_ENCRYPTION_KEYS must not override."""
    checkout = make_checkout(tmp_path, env_text(STACK_ENV))
    env = {"DATABASE_URL": "postgresql://mine/db", "GATEWAY_SECRETS_KEYS": "k0:old"}

    local_stack.apply(env, Warnings(), checkout)

    assert not any(name.endswith("_DATABASE_URL") for name in env)
    assert "GATEWAY_ENCRYPTION_KEYS" not in env
    assert env["NATS_URL"] == STACK_ENV["NATS_URL"]  # the rest still comes from the file


def test_outside_a_checkout_nothing_is_read(tmp_path):
    """No pyproject.toml from the directory up: None, the environment untouched."""
    stray = tmp_path / "somewhere"
    (stray / ".run").mkdir(parents=True)
    (stray / ".run" / "env").write_text(env_text(STACK_ENV))  # a .run/env alone does not make a checkout
    env = {"HOME": "/home/someone"}

    assert local_stack.apply(env, Warnings(), stray) is None
    assert env == {"HOME": "/home/someone"}


@pytest.mark.parametrize("pyproject", [
    '[project]\nname = "some-other-app"\n',
    '[tool.black]\nline-length = 100\n',  # no [project] table
    'this is [not toml',
])
def test_a_checkout_of_another_project_is_ignored(tmp_path, pyproject):
    """The nearest pyproject.toml decides: not ours (or unreadable), so its `.run/env` is not read."""
    other = make_checkout(tmp_path, env_text(STACK_ENV))
    (other / "pyproject.toml").write_text(pyproject)
    env: dict[str, str] = {}

    assert local_stack.apply(env, Warnings(), other) is None
    assert env == {}


def test_another_project_nested_in_the_checkout_is_not_the_checkout(tmp_path):
    """Inside another project's tree (even one under our checkout) the CLI is in that project, not ours."""
    ours = make_checkout(tmp_path / "repo", env_text(STACK_ENV))
    vendored = make_checkout(ours / "vendor" / "lib", None, name="lib")
    env: dict[str, str] = {}

    assert local_stack.apply(env, Warnings(), vendored / "src") is None
    assert env == {}


def test_a_checkout_without_run_env_reads_nothing(tmp_path):
    """`make run` not running (or never run): the checkout has no `.run/env`, the CLI behaves as today."""
    checkout = make_checkout(tmp_path, None)
    env: dict[str, str] = {}
    warnings = Warnings()

    assert local_stack.apply(env, warnings, checkout) is None
    assert env == {} and warnings == []


def test_accepted_syntax_and_nothing_is_executed(tmp_path):
    """Comments, blank lines, lines with or without `export`, any shell quoting; `$(...)` and `$X` stay text."""
    checkout = make_checkout(tmp_path, (
        "# a comment\n"
        "\n"
        "export A='single quoted $HOME'\n"
        'B="double \\"quoted\\""   # trailing comment\n'
        "export C=plain\n"
        "export D='$(touch pwned)'\n"
        "export E=\n"
    ))
    env: dict[str, str] = {}

    local_stack.apply(env, Warnings(), checkout)

    assert env == {"A": "single quoted $HOME", "B": 'double "quoted"', "C": "plain",
                   "D": "$(touch pwned)", "E": ""}
    assert not (checkout / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.parametrize("bad_line", [
    "export",
    "JUST_A_NAME",
    "echo hello",
    "export A=1 B=2",
    "1ABC=x",
    "export A-B=x",
    "export A='unterminated",
    "source elsewhere/env",
    "export D=$(touch pwned)",  # unquoted: two words
])
def test_a_malformed_line_refuses_the_whole_file(tmp_path, bad_line):
    """One bad line: nothing from the file is used, and one warning names the file and line, no value."""
    checkout = make_checkout(tmp_path, env_text(STACK_ENV) + bad_line + "\n")
    env: dict[str, str] = {}
    warnings = Warnings()

    assert local_stack.apply(env, warnings, checkout) is None

    assert env == {}
    bad_number = len(STACK_ENV) + 2  # the comment, the good lines, then the bad one
    message = (f"ignoring {checkout / '.run' / 'env'}: line {bad_number} is not `export NAME=value`; "
               "`make run` writes it again")
    assert warnings == [message]


def test_devstack_writes_what_the_cli_reads(tmp_path, monkeypatch):
    """The format contract, through the real writer: every variable round-trips, tricky values included;
    mode 0600; and the clean stop removes only the file this run wrote."""
    checkout = make_checkout(tmp_path, None)
    monkeypatch.setattr(devstack_main, "RUN_DIR", checkout / ".run")
    monkeypatch.setattr(devstack_main, "ENV_FILE", checkout / ".run" / "env")
    child_env = {**STACK_ENV, "BIND_HOST": "127.0.0.1", "METRICS_PORT": "0"}  # the last two: not for the CLI

    written = devstack_main._write_env_file(child_env)
    env: dict[str, str] = {}
    local_stack.apply(env, Warnings(), checkout)

    assert env == STACK_ENV
    assert stat.S_IMODE((checkout / ".run" / "env").stat().st_mode) == 0o600

    devstack_main._remove_env_file(None)  # this run never wrote it (e.g. failed to start): left alone
    assert (checkout / ".run" / "env").exists()
    (checkout / ".run" / "env").write_text(written + "export NATS_URL=nats://another-run:4222\n")
    devstack_main._remove_env_file(written)  # another run has replaced it since: left alone
    assert (checkout / ".run" / "env").exists()
    (checkout / ".run" / "env").write_text(written)
    devstack_main._remove_env_file(written)
    assert not (checkout / ".run" / "env").exists() and (checkout / ".run").is_dir()


def test_main_called_with_argv_reads_no_file(tmp_path, monkeypatch, capsys):
    """Only the console script (argv None) completes the environment: a caller passing argv, such as the
    in-process tests run from a checkout where `make run` is up, keeps its environment as it is."""
    checkout = make_checkout(tmp_path, env_text(STACK_ENV))
    monkeypatch.chdir(checkout)
    calls = []
    monkeypatch.setattr(local_stack, "apply", lambda *args: calls.append(args))

    monkeypatch.setenv("AUTENTIKAPP_WEBHOOK_SECRET", "whsec_x")
    code = main(["webhook", "send", "--tenant", "demo", "--scheme", "autentikapp", "--example",
                 "--url", f"http://127.0.0.1:{closed_port()}"])

    assert code == 1 and "cannot reach" in capsys.readouterr().err
    assert calls == []


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OneCustomer(customer_pb2_grpc.CustomerServiceServicer):
    """Knows one customer, in tenant demo."""

    def GetCustomer(self, request, context):
        if (request.tenant_id, request.customer_id) == ("demo", "c-1"):
            return customer_pb2.GetCustomerResponse(customer=customer_pb2.Customer(id="c-1", tenant_id="demo"))
        context.abort(grpc.StatusCode.NOT_FOUND, "no such customer")


@pytest.fixture
def customer_service():
    """A customer service on a real local port; yields its address."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    customer_pb2_grpc.add_CustomerServiceServicer_to_server(OneCustomer(), server)
    port = server.add_secure_port("127.0.0.1:0", tls_files("customer-service").server_credentials())
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def bare_environment() -> dict[str, str]:
    """This process's environment without anything that points at a stack."""
    return {k: v for k, v in os.environ.items()
            if not (k in {"NATS_URL", "PUBLIC_BASE_URL", "DATABASE_URL", "GATEWAY_ENCRYPTION_KEYS",
                          "GATEWAY_SECRETS_KEYS"} or k.endswith(("_DATABASE_URL", "_ADDR")))}


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed `autentikapp` console script, run in `cwd` with a bare environment."""
    return subprocess.run([str(Path(sys.executable).with_name("autentikapp")), *args], cwd=cwd,
                          env=bare_environment(), capture_output=True, text=True, timeout=60, check=False)


def test_the_console_script_reaches_the_stack_from_the_checkout_alone(tmp_path, customer_service):
    """From a subdirectory, with nothing in the environment, the address comes from `.run/env`; no value of
    the file (key, password) is ever printed."""
    checkout = make_checkout(tmp_path / "repo", env_text({**STACK_ENV, "CUSTOMER_SERVICE_ADDR": customer_service}))
    (checkout / "docs").mkdir()

    result = run_cli(checkout / "docs", "--json", "customers", "get", "--tenant", "demo", "c-1")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == "c-1"
    assert result.stderr == ""
    for secret in (KEY, PASSWORD):
        assert secret not in result.stdout + result.stderr


def test_a_stale_file_names_itself_when_the_service_is_unreachable(tmp_path):
    """`make run` killed outright leaves `.run/env` behind: the command fails as against any dead address,
    and says where the address came from."""
    dead = f"127.0.0.1:{closed_port()}"
    checkout = make_checkout(tmp_path, env_text({**STACK_ENV, "CUSTOMER_SERVICE_ADDR": dead}))

    result = run_cli(checkout, "--timeout", "5", "customers", "get", "--tenant", "demo", "c-1")

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"the customer service at {dead} is unavailable" in result.stderr
    assert result.stderr.rstrip().endswith(
        f"the address came from {checkout / '.run' / 'env'}, written by `make run`: is it still running?")
    assert KEY not in result.stderr and PASSWORD not in result.stderr


def test_a_malformed_file_is_one_warning_and_the_command_runs_as_outside(tmp_path, customer_service):
    """The console script prints the warning (no value) and then behaves as with no file at all."""
    checkout = make_checkout(tmp_path, f"export GATEWAY_ENCRYPTION_KEYS={KEY} oops\n")
    env = {**bare_environment(), "CUSTOMER_SERVICE_ADDR": customer_service}

    result = subprocess.run([str(Path(sys.executable).with_name("autentikapp")), "customers", "get",
                             "--tenant", "demo", "c-1"], cwd=checkout, env=env,
                            capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"autentikapp: warning: ignoring {checkout / '.run' / 'env'}: line 1 is not "
                             "`export NAME=value`; `make run` writes it again\n")
    assert KEY not in result.stdout + result.stderr
