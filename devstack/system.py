"""The system's processes and how they are wired together: one place, used by `make run` and by the
end-to-end tests, so what the tests run is what a newcomer runs."""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from common import dev_certificates, grpc_tls, nats_permissions
from common.config import METRICS_DEFAULT_PORTS, PROCESSOR_GRPC_DEFAULT_PORT
from devstack.processes import Child, ProcessGroup
from devstack.ready import grpc_serving, http_ok
from gateway import encryption_keys

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_KEY_ID = "dev-ephemeral"  # a key generated for one system's lifetime (tests); never a real key


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the system: `python -m <module>`.

    port_var/default_port: where it listens (None for a process nobody calls; the processor's is its gRPC
    server of event outcomes, EventOutcomeService, beside its consumer).
    address_var: the variable its clients read to find it (CLI, processor, dashboard), set for every child.
    check: "grpc" (grpc.health.v1 SERVING), "http" (GET /readyz answers 2xx) or "none".
    certificate: the name of its certificate for gRPC's mutual TLS (a service's, or the processor's role);
    None for a process that makes no gRPC call (the gateway gets no certificate at all).
    nats_user: the NATS user it connects as (common/nats_permissions.py), None when it uses no NATS.
    """

    name: str
    module: str
    port_var: str | None = None
    default_port: int | None = None
    address_var: str | None = None
    check: str = "none"
    certificate: str | None = None
    nats_user: str | None = None

    def port(self, environ: Mapping[str, str]) -> int | None:
        """The port from the environment, else the default; a malformed value stops the run."""
        if self.port_var is None:
            return None
        raw = environ.get(self.port_var, "").strip()
        if not raw:
            return self.default_port
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise SystemExit(f"devstack: {self.port_var}: expected a port number, got {raw!r}")
        return int(raw)

    def ready(self, port: int | None, tls: grpc_tls.TlsFiles | None) -> Callable[[], bool] | None:
        """The readiness check to poll after starting it (a gRPC one asks with the `tls` certificate)."""
        if self.check == "grpc":
            return grpc_serving(f"127.0.0.1:{port}", tls)
        if self.check == "http":
            return http_ok(f"http://127.0.0.1:{port}/readyz")
        return None

    @property
    def metrics_default_port(self) -> int:
        """Where the process serves /metrics unless told otherwise (common.config.METRICS_DEFAULT_PORTS)."""
        return METRICS_DEFAULT_PORTS[self.name]


# Start order (a process starts after those it calls); stopped in reverse.
PROCESSES: list[ProcessSpec] = [
    ProcessSpec("customer_service", "customer_service",
                "CUSTOMER_SERVICE_PORT", 50051, "CUSTOMER_SERVICE_ADDR", check="grpc", certificate="customer-service"),
    ProcessSpec("identifier_service", "identifier_service",
                "IDENTIFIER_SERVICE_PORT", 50052, "IDENTIFIER_SERVICE_ADDR", check="grpc",
                certificate="identifier-service"),
    ProcessSpec("processor", "processor", "PROCESSOR_GRPC_PORT", PROCESSOR_GRPC_DEFAULT_PORT, "PROCESSOR_ADDR",
                certificate=grpc_tls.PROCESSOR, nats_user=nats_permissions.PROCESSOR),
    ProcessSpec("gateway", "gateway", "GATEWAY_PORT", 8080, check="http", nats_user=nats_permissions.GATEWAY),
    ProcessSpec("gateway_admin", "gateway_admin", "GATEWAY_ADMIN_PORT", 50054, "GATEWAY_ADMIN_ADDR", check="grpc",
                certificate="gateway-admin", nats_user=nats_permissions.GATEWAY_ADMIN),
    ProcessSpec("dashboard", "dashboard", "DASHBOARD_PORT", 8090, check="http", certificate=grpc_tls.DASHBOARD),
]


def spec(name: str) -> ProcessSpec:
    """The spec of the process called `name`."""
    return next(s for s in PROCESSES if s.name == name)


def child_environment(infra_env: Mapping[str, str], ports: Mapping[str, int | None],
                      tls_dir: Path | None = None) -> dict[str, str]:
    """What every child gets: the infrastructure URLs, loopback binding, each other's addresses,
    GATEWAY_ENCRYPTION_KEYS: the one in `infra_env` (make run keeps its own under .run/), else a fresh
    development key for this system alone (tests start from bare URLs and fresh databases), and gRPC's
    mutual TLS: a throwaway CA and certificates created in `tls_dir` (make run: under .run/; else a
    temporary directory removed at exit), the operator's certificate in GRPC_TLS_* (what the CLI and the
    tests call with; `start` gives each process its own instead).

    METRICS_PORT is 0 (no endpoint): processes on one machine cannot share a metrics port, so each gets
    one only where `start` is given one for it (see there); a process started otherwise with this
    environment (an extra processor replica, a benchmark) never collides with anything."""
    env = {**infra_env, "BIND_HOST": "127.0.0.1", "METRICS_PORT": "0"}
    env.setdefault(encryption_keys.ENV_VAR, encryption_keys.new_entry(TEST_KEY_ID))
    if grpc_tls.CA_ENV not in env:
        env.update(dev_certificates.files_env(throwaway_certificates(tls_dir), grpc_tls.OPERATOR))
    operator_password = env.get(nats_permissions.password_variable(nats_permissions.OPERATOR))
    if operator_password:  # a local server with users (devstack.nats): the CLI and the tests are the operator
        env.update(NATS_USER=nats_permissions.OPERATOR, NATS_PASSWORD=operator_password)
    for s in PROCESSES:
        if s.port_var and ports.get(s.name):
            env[s.port_var] = str(ports[s.name])
        if s.address_var and ports.get(s.name):  # the children must reach the ones we start
            env[s.address_var] = f"127.0.0.1:{ports[s.name]}"
    if ports.get("gateway") and "PUBLIC_BASE_URL" not in env:
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{ports['gateway']}"
    if ports.get("gateway"):  # where the admin API sends test sales: the gateway we start
        env.setdefault("GATEWAY_URL", f"http://127.0.0.1:{ports['gateway']}")
    # Plain http on loopback: a Secure cookie would never come back (Secure stays the default elsewhere).
    env.setdefault("DASHBOARD_SECURE_COOKIES", "false")
    return env


def start(group: ProcessGroup, name: str, env: Mapping[str, str], ports: Mapping[str, int | None],
          *, ready_timeout: float = 60.0, metrics_ports: Mapping[str, int] | None = None) -> Child:
    """Start one process of the system and wait until it is ready; with its own METRICS_PORT when
    `metrics_ports` names one for it (`make run`: the defaults, tests: free ports)."""
    s = spec(name)
    child_env = process_environment(name, env)
    if metrics_ports and s.name in metrics_ports:
        child_env["METRICS_PORT"] = str(metrics_ports[s.name])
    return group.start(s.name, [sys.executable, "-m", s.module], child_env,
                       ready=s.ready(ports.get(s.name), tls_files(env)), ready_timeout=ready_timeout, cwd=REPO_ROOT)


def process_environment(name: str, env: Mapping[str, str]) -> dict[str, str]:
    """A system's environment (`env`, which carries the operator's certificate and every NATS user's
    password) as process `name` gets it: its own certificate and NATS user instead, or none for a process
    that makes no gRPC call or uses no NATS; never another's key or password."""
    operator = tls_files(env)
    s = spec(name)
    child_env = {k: v for k, v in env.items() if k not in (grpc_tls.CA_ENV, grpc_tls.CERT_ENV, grpc_tls.KEY_ENV)
                 and k not in ("NATS_USER", "NATS_PASSWORD") and not k.startswith("NATS_PASSWORD_")}
    if s.certificate and operator is not None:
        child_env.update(dev_certificates.files_env(operator.ca.parent, s.certificate))
    password = env.get(nats_permissions.password_variable(s.nats_user)) if s.nats_user else None
    if password:
        child_env.update(NATS_USER=s.nats_user, NATS_PASSWORD=password)
    return child_env



def throwaway_certificates(directory: Path | None) -> Path:
    """A new CA and every certificate in `directory`, else in a temporary directory removed at exit."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="autentikapp-tls-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    dev_certificates.create(directory)
    return directory


def tls_files(env: Mapping[str, str]) -> grpc_tls.TlsFiles | None:
    """The certificate files `env` names (the operator's, in a system's environment); None in plain text."""
    if not env.get(grpc_tls.CA_ENV):
        return None
    return grpc_tls.TlsFiles(Path(env[grpc_tls.CA_ENV]), Path(env[grpc_tls.CERT_ENV]), Path(env[grpc_tls.KEY_ENV]))
