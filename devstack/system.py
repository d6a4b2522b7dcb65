"""The system's processes and how they are wired together: one place, used by `make run` and by the
end-to-end tests, so what the tests run is what a newcomer runs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from common.config import METRICS_DEFAULT_PORTS
from devstack.processes import Child, ProcessGroup
from devstack.ready import grpc_serving, http_ok
from gateway import encryption_keys

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_KEY_ID = "dev-ephemeral"  # a key generated for one system's lifetime (tests); never a real key


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the system: `python -m <module>`.

    port_var/default_port: where it listens (None for a pure consumer such as the processor).
    address_var: the variable its clients read to find it (CLI, processor), set for every child.
    check: "grpc" (grpc.health.v1 SERVING), "http" (GET /readyz answers 2xx) or "none".
    """

    name: str
    module: str
    port_var: str | None = None
    default_port: int | None = None
    address_var: str | None = None
    check: str = "none"

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

    def ready(self, port: int | None) -> Callable[[], bool] | None:
        """The readiness check to poll after starting it."""
        if self.check == "grpc":
            return grpc_serving(f"127.0.0.1:{port}")
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
                "CUSTOMER_SERVICE_PORT", 50051, "CUSTOMER_SERVICE_ADDR", check="grpc"),
    ProcessSpec("identifier_service", "identifier_service",
                "IDENTIFIER_SERVICE_PORT", 50052, "IDENTIFIER_SERVICE_ADDR", check="grpc"),
    ProcessSpec("processor", "processor"),
    ProcessSpec("gateway", "gateway", "GATEWAY_PORT", 8080, check="http"),
]


def spec(name: str) -> ProcessSpec:
    """The spec of the process called `name`."""
    return next(s for s in PROCESSES if s.name == name)


def child_environment(infra_env: Mapping[str, str], ports: Mapping[str, int | None]) -> dict[str, str]:
    """What every child gets: the infrastructure URLs, loopback binding, each other's addresses, and
    GATEWAY_ENCRYPTION_KEYS: the one in `infra_env` (make run keeps its own under .run/), else a fresh
    development key for this system alone (tests start from bare URLs and fresh databases).

    METRICS_PORT is 0 (no endpoint): processes on one machine cannot share a metrics port, so each gets
    one only where `start` is given one for it (see there); a process started otherwise with this
    environment (an extra processor replica, a benchmark) never collides with anything."""
    env = {**infra_env, "BIND_HOST": "127.0.0.1", "METRICS_PORT": "0"}
    env.setdefault(encryption_keys.ENV_VAR, encryption_keys.new_entry(TEST_KEY_ID))
    for s in PROCESSES:
        if s.port_var and ports.get(s.name):
            env[s.port_var] = str(ports[s.name])
        if s.address_var and ports.get(s.name):  # the children must reach the ones we start
            env[s.address_var] = f"127.0.0.1:{ports[s.name]}"
    if ports.get("gateway") and "PUBLIC_BASE_URL" not in env:
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{ports['gateway']}"
    return env


def start(group: ProcessGroup, name: str, env: Mapping[str, str], ports: Mapping[str, int | None],
          *, ready_timeout: float = 60.0, metrics_ports: Mapping[str, int] | None = None) -> Child:
    """Start one process of the system and wait until it is ready; with its own METRICS_PORT when
    `metrics_ports` names one for it (`make run`: the defaults, tests: free ports)."""
    s = spec(name)
    child_env = dict(env)
    if metrics_ports and s.name in metrics_ports:
        child_env["METRICS_PORT"] = str(metrics_ports[s.name])
    return group.start(s.name, [sys.executable, "-m", s.module], child_env,
                       ready=s.ready(ports.get(s.name)), ready_timeout=ready_timeout, cwd=REPO_ROOT)
