"""`python -m devstack run` (what `make run` does) and `python -m devstack infra`.

run:   NATS + Postgres (given by URL or started under .run/), then every process in PROCESSES, in
       order, each waited on until ready; .run/env (what `autentikapp` in the checkout reads) and a
       banner; then wait for Ctrl-C/SIGTERM or a dead child, and stop everything: .run/env is removed,
       children stop in reverse order, then NATS and Postgres.
infra: only NATS + Postgres, printed as `export` lines, for poking around with psql or the services.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from devstack import dev_keys
from devstack._proc import DirInUse
from devstack.demo import Demo, ensure_dashboard_login, ensure_demo
from devstack.nats import NatsError
from devstack.ports import free_port
from devstack.postgres import PostgresError
from devstack.processes import ChildError, ProcessGroup
from devstack.stack import ENCRYPTION_KEYS, Infrastructure, InfrastructureError, redact_url
from devstack.system import PROCESSES, REPO_ROOT, ProcessSpec, child_environment, start, tls_files
from gateway import encryption_keys

DEMO_SECRET_ENV = "AUTENTIKAPP_WEBHOOK_SECRET"  # where `autentikapp webhook send` reads the secret

RUN_DIR = REPO_ROOT / ".run"
LOG_DIR = RUN_DIR / "logs"
ENV_FILE = RUN_DIR / "env"


READY_TIMEOUT = 60.0


class _Stop(Exception):
    """Raised from the signal handler to leave whatever we are waiting on."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def _say(message: str) -> None:
    print(f"devstack: {message}", file=sys.stderr, flush=True)


def _is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port (TIME_WAIT leftovers do not count, as for servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _check_port_free(spec: ProcessSpec, port: int) -> None:
    """Fail fast on a taken port: a readiness check could otherwise pass against someone else's server."""
    if not _is_free(port):
        raise SystemExit(
            f"devstack: port {port} for {spec.name} is in use (another `make run`?); "
            f"stop it or set {spec.port_var}")


def _metrics_ports() -> dict[str, int]:
    """Each process's metrics port: its default when free, else any free one (the banner shows which);
    metrics are worth having but never worth refusing to start over."""
    return {spec.name: spec.metrics_default_port if _is_free(spec.metrics_default_port) else free_port()
            for spec in PROCESSES}


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _banner(infra: Infrastructure, env: Mapping[str, str], ports: dict[str, int | None],
            metrics_ports: Mapping[str, int], demo: Demo, login: tuple[str, str]) -> str:
    """Where everything is and what to try; URLs are printed without passwords."""
    rows: list[tuple[str, str]] = []
    nats_note = f"  (local, data in {_relative(infra.nats.data_dir)})" if infra.nats else "  (given)"
    rows.append(("NATS", redact_url(env["NATS_URL"]) + nats_note))
    if infra.postgres:
        rows.append(("Postgres", f"{infra.postgres.url()}  (local, data in {_relative(infra.postgres.data_dir)})"))
    for spec in PROCESSES:
        port = ports[spec.name]
        metrics = f"metrics http://127.0.0.1:{metrics_ports[spec.name]}/metrics"
        rows.append((spec.name, f"127.0.0.1:{port}  ({metrics})" if port else f"running  ({metrics})"))
    for name in ("CUSTOMER_SERVICE_DATABASE_URL", "IDENTIFIER_SERVICE_DATABASE_URL",
                 "GATEWAY_DATABASE_URL", "PROCESSOR_DATABASE_URL", "DASHBOARD_DATABASE_URL"):
        rows.append((name, redact_url(env[name])))
    given_key = env[ENCRYPTION_KEYS] == os.environ.get(ENCRYPTION_KEYS, "").strip()
    rows.append((ENCRYPTION_KEYS, "(given)" if given_key else
                 f"development key in {_relative(dev_keys.key_file(RUN_DIR))}  (make clean removes it)"))
    rows.append(("logs", f"{_relative(LOG_DIR)}/  (tail -f {_relative(LOG_DIR)}/*.log)"))
    width = max(len(label) for label, _ in rows)
    lines = ["", "autentikapp dev stack is up", ""]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    lines += [
        "",
        f"Dashboard (Configuración > Integraciones > Webhooks): http://127.0.0.1:{ports['dashboard']}/",
        f"  sign in with customer ID {demo.tenant_id!r}, e-mail {login[0]}, password {login[1]}",
        f"  (a development login, kept in {_relative(RUN_DIR / 'dashboard-login.json')})",
        "",
        f"Demo tenant {demo.tenant_id!r}, webhook secret {demo.secret}",
        f"  (registered codes: {', '.join(demo.codes[:3])}, ...)",
        "",
        f"In another terminal, anywhere in this checkout (autentikapp reads {_relative(ENV_FILE)} by itself):",
        "  source .venv/bin/activate",
        f"  # send the integration guide's example sale, signed with the demo secret (${DEMO_SECRET_ENV},",
        f"  # from {_relative(ENV_FILE)}) by Standard Webhooks; --scheme autentikapp signs as the guide does:",
        f"  autentikapp webhook send --tenant {demo.tenant_id} --url http://127.0.0.1:{ports['gateway']} --example",
        "  # then follow it (use the event_id printed by the command above):",
        "  autentikapp events show EVENT_ID",
        f"  autentikapp customers find --tenant {demo.tenant_id} --email cliente@email.com",
        f"  autentikapp identifiers get --tenant {demo.tenant_id} {demo.codes[0]}",
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _write_env_file(env: Mapping[str, str]) -> str:
    """`.run/env`: the variables the CLI needs to reach this stack. Mode 0600: it holds the key.

    `autentikapp` run anywhere in the checkout reads it by itself (cli.local_stack: the variables the
    environment does not set); `source .run/env` still works for other tools. Removed on a clean stop by
    _remove_env_file, so it exists while the stack runs (unless `make run` was killed outright).
    Returns what was written."""
    keys = ["NATS_URL", "PUBLIC_BASE_URL", ENCRYPTION_KEYS,  # the key: `autentikapp tenants` seals secrets too
            DEMO_SECRET_ENV,  # the demo tenant's: `autentikapp webhook send` signs with it, never from argv
            "GRPC_TLS_CA_FILE", "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE",  # the operator's certificate
            "NATS_USER", "NATS_PASSWORD",  # the operator's NATS user (dlq list, dlq replay)
            *(k for k in env if k.endswith(("_DATABASE_URL", "_ADDR")))]
    lines = [f"export {k}={shlex.quote(env[k])}" for k in keys if k in env]
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    text = ("# written by `make run` for the running stack, removed when it stops; autentikapp reads it\n"
            "# by itself anywhere in this checkout (variables set in the environment win)\n"
            + "\n".join(lines) + "\n")
    fd = os.open(ENV_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return text


def _remove_env_file(written: str | None) -> None:
    """On the way out, remove `.run/env` if this run wrote it and it still holds what we wrote.

    A stack that stops takes its addresses with it: with the file gone, `autentikapp` in the checkout
    behaves as outside one (defaults, or the environment) instead of reading addresses where nothing
    listens. Only a `make run` killed outright (SIGKILL, crash) leaves the file behind; the next one
    rewrites it; meanwhile a command reports the unreachable address as it does today (a gRPC command's
    message adds that the address came from .run/env). A run that failed before writing it, or whose
    file another run has since replaced, leaves the file alone.
    Everything else under .run/ (data, logs, the development key, the demo tenant) stays."""
    if written is None:
        return
    try:
        if ENV_FILE.read_text() == written:
            ENV_FILE.unlink()
    except OSError:
        pass


def _watch(infra: Infrastructure, group: ProcessGroup | None) -> str | None:
    """Block until a signal (raises _Stop) or until something dies; return what died, with its log."""
    while True:
        if group is not None and (child := group.exited()) is not None:
            return child.describe_exit()
        for server in (infra.nats, infra.postgres):
            if server is not None and not server.is_running():
                return f"{type(server).__name__} stopped unexpectedly; see {server.log_path}"
        time.sleep(0.5)


def _install_handlers(handler: Callable[..., object] | int) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def run() -> int:
    """`make run`: the whole system on this machine until Ctrl-C."""
    environ = dict(os.environ)
    ports = {spec.name: spec.port(environ) for spec in PROCESSES}
    for spec in PROCESSES:
        if ports[spec.name]:
            _check_port_free(spec, ports[spec.name])
    infra = Infrastructure(RUN_DIR, durable=True)
    group = ProcessGroup(LOG_DIR)
    code = 0
    env_written: str | None = None
    _install_handlers(_raise_stop)
    try:
        _say("starting NATS and Postgres (local ones under .run/ unless NATS_URL / DATABASE_URL are set)")
        infra.start()
        # A fresh throwaway CA each run, and reflection on for grpcurl and the like (off by default).
        child_env = {**child_environment(infra.env(), ports, tls_dir=RUN_DIR / "tls"), "GRPC_REFLECTION": "true"}
        metrics_ports = _metrics_ports()
        for spec in PROCESSES:
            _say(f"starting {spec.name} (log: {_relative(LOG_DIR / (spec.name + '.log'))})")
            start(group, spec.name, child_env, ports, ready_timeout=READY_TIMEOUT, metrics_ports=metrics_ports)
        demo = ensure_demo(child_env["GATEWAY_DATABASE_URL"], child_env["IDENTIFIER_SERVICE_ADDR"],
                           RUN_DIR / "demo-tenant.json", encryption_keys.parse(child_env[ENCRYPTION_KEYS]),
                           tls_files(child_env))
        login = ensure_dashboard_login(child_env["DASHBOARD_DATABASE_URL"], RUN_DIR / "dashboard-login.json")
        env_written = _write_env_file({**child_env, DEMO_SECRET_ENV: demo.secret})
        print(_banner(infra, child_env, ports, metrics_ports, demo, login), flush=True)
        died = _watch(infra, group)
        _say(f"stopping everything because {died}")
        code = 1
    except _Stop as stop:
        _say(f"{stop} received, stopping")
    except (ChildError, PostgresError, NatsError, DirInUse, InfrastructureError) as exc:
        _say(f"{exc}")
        code = 1
    finally:
        _install_handlers(signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        _remove_env_file(env_written)  # first: the stack is going away
        group.stop_all()
        infra.stop()
    _say("stopped")
    return code


def infra() -> int:
    """Only NATS and Postgres, with their variables as `export` lines, until Ctrl-C."""
    stack = Infrastructure(RUN_DIR, durable=True)
    code = 0
    _install_handlers(_raise_stop)
    try:
        stack.start()
        redacted = False
        for key, value in stack.env().items():
            if key == ENCRYPTION_KEYS:  # never printed: read from the kept file, or already in your shell
                if value != os.environ.get(ENCRYPTION_KEYS, "").strip():
                    print(f'export {key}="$(cat {shlex.quote(_relative(dev_keys.key_file(RUN_DIR)))})"', flush=True)
                continue
            shown = redact_url(value)
            redacted |= shown != value
            print(f"export {key}={shown}", flush=True)
        if redacted:
            print("# passwords shown as ***: put yours back before pasting", flush=True)
        if stack.postgres:
            print(f"# local Postgres server: {stack.postgres.url()}", flush=True)
        _say("NATS and Postgres are up; Ctrl-C stops them")
        died = _watch(stack, None)
        _say(died or "stopped")
        code = 1
    except _Stop as stop:
        _say(f"{stop} received, stopping")
    except (PostgresError, NatsError, DirInUse, InfrastructureError) as exc:
        _say(f"{exc}")
        code = 1
    finally:
        _install_handlers(signal.SIG_IGN)
        stack.stop()
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "infra"])
    args = parser.parse_args(argv)
    return run() if args.command == "run" else infra()


if __name__ == "__main__":
    sys.exit(main())
