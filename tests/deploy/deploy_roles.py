"""The image's roles and what each needs, read from deploy/entrypoint.sh, the Dockerfile and the code.

Shared by the Compose, Kubernetes and Dockerfile tests, so the three check the same facts.
"""

from __future__ import annotations

import ast
import atexit
import json
import os
import re
import shlex
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

from config_names import ROOT, Scan, scan

ENTRYPOINT_SCRIPT = ROOT / "deploy" / "entrypoint.sh"
DOCKERFILE = ROOT / "Dockerfile"
ROLES = {"gateway", "processor", "customer-service", "identifier-service", "gateway-admin", "dashboard", "migrate",
         "cli"}
LONG_RUNNING = {"gateway", "processor", "customer-service", "identifier-service", "gateway-admin", "dashboard"}

# gunicorn loads these itself (gateway/process.py and dashboard/process.py pass the config file's path and
# "<package>.wsgi:app"), so `python -m gateway serve` reads what they read although it never imports them.
LOADED_BY_GUNICORN = {"gateway": ["gateway.gunicorn_conf", "gateway.wsgi"],
                      "dashboard": ["dashboard.gunicorn_conf", "dashboard.wsgi"]}
# Long-running roles that serve no /metrics (each with the reason): no metrics port, no METRICS_PORT.
NO_METRICS = {"dashboard": "the dashboard's gunicorn serves no /metrics (nothing calls common.metrics.serve)"}

# Variables a deployment must set for a role: their defaults point at this machine (127.0.0.1/localhost)
# or do not exist (GATEWAY_ENCRYPTION_KEYS), so they are right only for `make run`. Each service has its
# own database URL: DATABASE_URL, the shared fallback, is for development only.
REQUIRED_ENV = {
    "gateway": {"GATEWAY_DATABASE_URL", "GATEWAY_ENCRYPTION_KEYS", "NATS_URL"},
    "processor": {"PROCESSOR_DATABASE_URL", "NATS_URL", "CUSTOMER_SERVICE_ADDR", "IDENTIFIER_SERVICE_ADDR"},
    "customer-service": {"CUSTOMER_SERVICE_DATABASE_URL"},
    "identifier-service": {"IDENTIFIER_SERVICE_DATABASE_URL"},
    # The gateway's database and keys, NATS (dead letters), and the gateway itself (test sales).
    "gateway-admin": {"GATEWAY_DATABASE_URL", "GATEWAY_ENCRYPTION_KEYS", "NATS_URL", "GATEWAY_URL"},
    # Its own database, the two APIs it calls, and the gateway's public URL it shows as the endpoint.
    "dashboard": {"DASHBOARD_DATABASE_URL", "GATEWAY_ADMIN_ADDR", "PROCESSOR_ADDR", "PUBLIC_BASE_URL"},
    "migrate": {"CUSTOMER_SERVICE_DATABASE_URL", "IDENTIFIER_SERVICE_DATABASE_URL", "GATEWAY_DATABASE_URL",
                "PROCESSOR_DATABASE_URL", "DASHBOARD_DATABASE_URL", "GATEWAY_ENCRYPTION_KEYS"},
    # A container that runs the CLI needs every group's connection: tenants (the gateway's database and
    # keys), events (the processor's database), dlq (NATS), customers/identifiers (both services),
    # dashboard users (the dashboard's database).
    "cli": {"GATEWAY_DATABASE_URL", "GATEWAY_ENCRYPTION_KEYS", "PROCESSOR_DATABASE_URL", "NATS_URL",
            "CUSTOMER_SERVICE_ADDR", "IDENTIFIER_SERVICE_ADDR", "DASHBOARD_DATABASE_URL"},
}

# The internal plane (issue 13; docs/operations.md "The internal plane"). gRPC runs over mutual TLS on
# every hop: each process that serves or calls gRPC reads its certificate, key and CA from these files
# (PEM). A caller's role is its certificate's Common Name; a server's certificate names its Service.
GRPC_TLS_ENV = ("GRPC_TLS_CA_FILE", "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE")
GRPC_SERVERS = {"customer-service", "identifier-service", "gateway-admin"}
GRPC_CLIENT_ROLES = {"processor": "processor", "cli": "operator", "dashboard": "dashboard"}  # image role -> CN
# Client roles whose process serves gRPC too (the processor's EventOutcomeService): their certificate's CN
# is the role, its DNS names its Service's (common/dev_certificates.py SERVING_ROLES). Role -> port.
SERVING_CLIENTS = {"processor": 50053}
# Each process that connects to NATS logs in as its own user (NATS_USER, NATS_PASSWORD); the image role
# -> its NATS user. nats-box (the NATS chart's pod, for backups) logs in as `backup`.
NATS_USERS = {"gateway": "gateway", "processor": "processor", "gateway-admin": "gateway_admin", "cli": "operator"}
NATS_BOX_USER = "backup"
NATS_SECRET_PREFIX = "autentikapp-nats-"


def nats_secret(user: str) -> str:
    """The Secret holding a NATS user's password (key `password`): a Secret's name allows no `_`."""
    return NATS_SECRET_PREFIX + user.replace("_", "-")


# Set by the manifests although no module of ours reads them: each with the reason. None at present
# (METRICS_PORT is read by every process, PROMETHEUS_MULTIPROC_DIR by the gateway's gunicorn master).
NOT_READ_BY_OUR_CODE: dict[str, str] = {}

# Variables whose values are secrets (passwords inside URLs, encryption keys): never a literal in the
# Kubernetes manifests.
SECRET_ENV = {"DATABASE_URL", "CUSTOMER_SERVICE_DATABASE_URL", "IDENTIFIER_SERVICE_DATABASE_URL",
              "GATEWAY_DATABASE_URL", "PROCESSOR_DATABASE_URL", "DASHBOARD_DATABASE_URL", "GATEWAY_ENCRYPTION_KEYS"}


@cache
def code() -> Scan:
    """The environment variables the code reads (scanned once per test session)."""
    return scan()


@cache
def entrypoint_arms() -> dict[str, list[list[str]]]:
    """The entrypoint's `case "$role"` arms: each pattern -> its command lines, split like the shell."""
    text = ENTRYPOINT_SCRIPT.read_text()
    body = text[text.index('case "$role" in'):text.index("esac")]
    arms: dict[str, list[list[str]]] = {}
    current: list[str] = []
    for raw in body.splitlines()[1:]:
        line = raw.split(" #")[0].strip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        header = re.fullmatch(r"([^()]+)\)", line)
        if header:
            current = [pattern.strip() for pattern in header.group(1).split("|")]
            for pattern in current:
                arms[pattern] = []
        elif line == ";;":
            current = []
        else:
            for pattern in current:
                arms[pattern].append(shlex.split(line))
    return arms


def role_commands(role: str) -> list[list[str]]:
    """The commands a role runs (`exec` dropped, `"$@"` dropped), e.g. [["python", "-m", "gateway", "serve"]]."""
    commands = []
    for words in entrypoint_arms()[role]:
        if words[0] == "exec":
            words = words[1:]
        if words[0] in {"python", "autentikapp"}:
            commands.append([w for w in words if w != "$@"])
    return commands


def console_scripts() -> dict[str, str]:
    """pyproject.toml's [project.scripts]: command -> "module:function"."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def role_modules(role: str) -> list[str]:
    """The modules a role's processes start from."""
    modules: list[str] = []
    for command in role_commands(role):
        if command[:2] == ["python", "-m"]:
            modules.append(f"{command[2]}.__main__")
            modules.extend(LOADED_BY_GUNICORN.get(command[2], []) if role != "migrate" else [])
        elif command[0] == "autentikapp":
            modules.append(console_scripts()["autentikapp"].partition(":")[0])
    return modules


def env_read_by(role: str) -> set[str]:
    """Every variable a role's processes may read."""
    return code().names_read_by(role_modules(role))


@cache
def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        logical += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if stripped.endswith("\\"):
            continue
        keyword, _, args = logical.strip().partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), args.strip()))
    return stages


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the stage that becomes the image."""
    return dockerfile_stages()[-1]


def image_entrypoint() -> list[str]:
    """The image's ENTRYPOINT (exec form)."""
    return json.loads(next(args for keyword, args in final_stage() if keyword == "ENTRYPOINT"))


def exposed_ports() -> set[int]:
    """The ports the image EXPOSEs."""
    return {int(port.split("/")[0]) for keyword, args in final_stage() if keyword == "EXPOSE" for port in args.split()}


def copies(stage: list[tuple[str, str]]) -> dict[str, str]:
    """COPY source -> destination in a stage (flags such as --chmod dropped; sources from the context)."""
    found = {}
    for keyword, args in stage:
        if keyword != "COPY":
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        for source in words[:-1]:
            found[source] = words[-1]
    return found


def image_path_of(repo_file: str) -> str:
    """Where a file of the repository lands in the image (final stage COPY)."""
    return copies(final_stage())[repo_file]


def settings_for(role: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Parse `env` with the code's own settings for `role`, as its processes would at start.

    The role's variables not in `env` are unset meanwhile, so defaults apply as in a fresh container.
    Returns the settings objects by name ("gateway", "processor", "customer_service", ...); a value
    the code refuses raises common.config.ConfigError naming the variable.
    """
    from common.bus import BusSettings
    from common.config import (CUSTOMER_SERVICE_DEFAULT_PORT, IDENTIFIER_SERVICE_DEFAULT_PORT, ServiceSettings,
                               database_url, grpc_address)
    from dashboard.settings import DashboardSettings
    from gateway import encryption_keys
    from gateway.settings import GatewaySettings, public_base_url
    from gateway_admin.settings import GatewayAdminSettings
    from processor.settings import ProcessorSettings

    parsers: dict[str, Callable[[], Any]] = {
        "gateway": GatewaySettings.from_env,
        "gateway_keys": encryption_keys.from_env,
        "processor": ProcessorSettings.from_env,
        "customer_service": lambda: ServiceSettings.from_env("CUSTOMER_SERVICE", CUSTOMER_SERVICE_DEFAULT_PORT),
        "identifier_service": lambda: ServiceSettings.from_env("IDENTIFIER_SERVICE", IDENTIFIER_SERVICE_DEFAULT_PORT),
        "gateway_admin": GatewayAdminSettings.from_env,
        "dashboard": DashboardSettings.from_env,
        "cli_addresses": lambda: (grpc_address("CUSTOMER_SERVICE_ADDR", CUSTOMER_SERVICE_DEFAULT_PORT),
                                  grpc_address("IDENTIFIER_SERVICE_ADDR", IDENTIFIER_SERVICE_DEFAULT_PORT)),
        "cli_urls": lambda: (database_url("GATEWAY_DATABASE_URL"), database_url("PROCESSOR_DATABASE_URL"),
                             database_url("DASHBOARD_DATABASE_URL"), public_base_url(), BusSettings.from_env()),
    }
    wanted = {
        "gateway": ["gateway", "gateway_keys"],
        "processor": ["processor"],
        "customer-service": ["customer_service"],
        "identifier-service": ["identifier_service"],
        "gateway-admin": ["gateway_admin"],
        "dashboard": ["dashboard"],
        "migrate": ["customer_service", "identifier_service", "gateway", "gateway_keys", "processor", "dashboard"],
        "cli": ["cli_addresses", "cli_urls", "gateway_keys"],
    }[role]
    cleared = env_read_by(role) | set(NOT_READ_BY_OUR_CODE)
    environ = {k: v for k, v in os.environ.items() if k not in cleared}
    with mock.patch.dict(os.environ, {**environ, **env}, clear=True):
        return {name: parsers[name]() for name in wanted}


@cache
def _tls_stand_in_dir() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="autentikapp-deploy-tls-"))
    atexit.register(shutil.rmtree, directory, True)
    return directory


def tls_stand_ins(env: Mapping[str, str | None]) -> dict[str, str]:
    """The GRPC_TLS_* files `env` names, replaced by empty files of the same names on this machine: the
    settings parsers check only that the files can be read (in the cluster cert-manager writes them)."""
    replaced = {}
    for name in GRPC_TLS_ENV:
        if env.get(name):
            stand_in = _tls_stand_in_dir() / Path(env[name]).name
            stand_in.touch()
            replaced[name] = str(stand_in)
    return replaced


def gateway_routes(folder: str = "gateway") -> dict[str, set[str]]:
    """The gateway's HTTP routes (or those of the Flask app in `folder`, e.g. "dashboard/views"), read from
    its blueprints' decorators: path -> methods."""
    routes: dict[str, set[str]] = {}
    for path in sorted((ROOT / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for decorator in node.decorator_list:
                if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                        and decorator.func.attr in {"get", "post", "put", "delete", "route"} and decorator.args
                        and isinstance(decorator.args[0], ast.Constant)):
                    routes.setdefault(decorator.args[0].value, set()).add(decorator.func.attr.upper())
    return routes


def grpc_services() -> set[str]:
    """Full names of the gRPC services the protos declare, e.g. autentikapp.v1.CustomerService."""
    names = set()
    for proto in sorted((ROOT / "protos").rglob("*.proto")):
        text = proto.read_text()
        package = re.search(r"^package\s+([\w.]+)\s*;", text, re.MULTILINE).group(1)
        names.update(f"{package}.{service}" for service in re.findall(r"^service\s+(\w+)", text, re.MULTILINE))
    return names


def dev_databases() -> dict[str, str]:
    """devstack's database name for each service's URL variable (what `make run` creates)."""
    tree = ast.parse((ROOT / "devstack" / "stack.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "SERVICE_DATABASES":
            return ast.literal_eval(node.value)
    raise AssertionError("devstack/stack.py: SERVICE_DATABASES not found")
