"""docker-compose.yml against the image and the code: roles, variables, ports, health, start order.

Parsed as YAML (anchors and merge keys resolved as Compose resolves them); no Docker needed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml
from config_names import ROOT
from deploy_roles import (
    LONG_RUNNING,
    NO_METRICS,
    NOT_READ_BY_OUR_CODE,
    REQUIRED_ENV,
    ROLES,
    dev_databases,
    env_read_by,
    gateway_routes,
    image_entrypoint,
    image_path_of,
    settings_for,
    tls_stand_ins,
)

from gateway import encryption_keys

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict = COMPOSE["services"]
INFRA = {"nats", "postgres"}
APP = {name: s for name, s in SERVICES.items() if name not in INFRA}
# Services in a profile: `docker compose up` leaves them out; they run by `docker compose run` only.
ON_DEMAND = {name for name, s in SERVICES.items() if s.get("profiles")}
INIT_SQL = ROOT / "deploy" / "compose" / "postgres-init.sql"
# One-shots `up` runs before the long-running services: the migrations, and the throwaway certificates of
# gRPC's mutual TLS (`autentikapp certs create`, a CLI command that needs no setting).
ONE_SHOTS = {"migrate", "certs"}
CERTS = "certs"


def role_of(service: dict) -> str:
    """The image role a service runs: the entrypoint's argument, from `command` or a fixed entrypoint."""
    if "entrypoint" in service:
        entrypoint = service["entrypoint"]
        assert entrypoint[:1] == image_entrypoint(), "an entrypoint override must still be the image's script"
        assert len(entrypoint) == 2, "an entrypoint override may only fix the role"
        return entrypoint[1]
    return service["command"][0]


def env_of(service: dict) -> dict[str, str]:
    """The service's environment as a mapping (the list form is refused: one style)."""
    env = service.get("environment", {})
    assert isinstance(env, dict), "use the mapping form of `environment`"
    return {key: str(value) for key, value in env.items()}


def settings(name: str) -> dict:
    """The code's own settings parsed from the service's environment (the certificate files it names
    stand in by empty ones: the `certs` one-shot writes the real ones into a volume)."""
    env = env_of(SERVICES[name])
    return settings_for(role_of(SERVICES[name]), {**env, **tls_stand_ins(env)})


def test_infrastructure_and_every_role_are_there():
    assert INFRA <= set(SERVICES)
    assert {role_of(s) for s in APP.values()} == ROLES


@pytest.mark.parametrize("name", sorted(APP))
def test_app_services_run_the_image_built_from_the_dockerfile(name):
    service = APP[name]
    assert service["build"] == ".", "built from ./Dockerfile"
    assert service["image"] == "autentikapp-webhooks:dev"
    assert role_of(service) in ROLES


@pytest.mark.parametrize("name", sorted(APP))
def test_every_variable_set_is_read_by_that_role(name):
    role = role_of(APP[name])
    unknown = set(env_of(APP[name])) - env_read_by(role) - set(NOT_READ_BY_OUR_CODE)
    assert not unknown, f"{name} ({role}) sets variables its code never reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(set(APP) - {CERTS}))
def test_every_variable_the_role_requires_is_set(name):
    role = role_of(APP[name])
    assert REQUIRED_ENV[role] <= env_read_by(role), "REQUIRED_ENV names a variable the role does not read"
    missing = REQUIRED_ENV[role] - set(env_of(APP[name]))
    assert not missing, f"{name} ({role}) lacks {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(set(APP) - {CERTS}))
def test_the_code_accepts_every_value(name):
    settings(name)  # raises ConfigError naming the variable otherwise


def test_the_certs_one_shot_writes_the_volume_every_grpc_process_reads():
    certs = SERVICES[CERTS]
    assert certs["command"] == ["certs", "create", "/certs"] and certs["volumes"] == ["grpc-certs:/certs"]
    for name, service in APP.items():
        env = env_of(service)
        if "GRPC_TLS_CA_FILE" in env:
            assert "grpc-certs:/certs:ro" in service["volumes"], name
            assert {env[v].rpartition("/")[0] for v in ("GRPC_TLS_CA_FILE", "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE")} \
                == {"/certs"}, name
            if name != "cli":
                assert service["depends_on"][CERTS] == {"condition": "service_completed_successfully"}, name


def test_nats_runs_the_users_the_code_defines():
    from common import nats_permissions

    text = (ROOT / "deploy" / "compose" / "nats.conf").read_text()
    passwords = {user: env_of(service)["NATS_PASSWORD"] for service in APP.values()
                 for user in [env_of(service).get("NATS_USER")] if user}
    assert set(passwords) == set(nats_permissions.USERS)
    assert text.endswith(nats_permissions.server_config({u: passwords[u] for u in nats_permissions.USERS}))
    assert all(password.startswith("dev-only-") for password in passwords.values())
    assert "/etc/nats/autentikapp.conf" in SERVICES["nats"]["command"]


def test_ports_agree_with_the_code():
    assert settings("gateway")["gateway"].port == 8080
    assert SERVICES["gateway"]["ports"] == ["8080:8080"]
    assert settings("customer-service")["customer_service"].port == 50051
    assert settings("identifier-service")["identifier_service"].port == 50052
    assert settings("processor")["processor"].grpc_port == 50053
    assert settings("gateway-admin")["gateway_admin"].port == 50054
    assert settings("dashboard")["dashboard"].port == 8090
    assert SERVICES["dashboard"]["ports"] == ["8090:8090"]
    published = {name for name, service in APP.items() if service.get("ports")}
    assert published == {"gateway", "dashboard"}, "only the webhook endpoint and the dashboard are published"


def test_clients_point_at_the_services_they_need():
    processor = settings("processor")["processor"]
    for address, target, key in ((processor.customer_service_addr, "customer-service", "customer_service"),
                                 (processor.identifier_service_addr, "identifier-service", "identifier_service")):
        host, _, port = address.rpartition(":")
        assert host == target and int(port) == settings(target)[key].port
    assert urlsplit(processor.bus.url).hostname == "nats"
    assert settings("gateway")["gateway"].bus.url == processor.bus.url
    admin = settings("gateway-admin")["gateway_admin"]
    assert admin.bus.url == processor.bus.url
    gateway_url = urlsplit(admin.gateway_url)
    assert gateway_url.hostname == "gateway" and gateway_url.port == settings("gateway")["gateway"].port
    dashboard = settings("dashboard")["dashboard"]
    for address, target, port in ((dashboard.gateway_admin_addr, "gateway-admin", admin.port),
                                  (dashboard.processor_addr, "processor", processor.grpc_port)):
        assert address == f"{target}:{port}"


def test_the_dashboard_shows_the_gateways_public_url_and_works_over_plain_http():
    dashboard = settings("dashboard")["dashboard"]
    assert dashboard.public_base_url == env_of(SERVICES["gateway"])["PUBLIC_BASE_URL"].rstrip("/")
    published = urlsplit(dashboard.public_base_url)
    assert f"{published.port}:{settings('gateway')['gateway'].port}" in SERVICES["gateway"]["ports"]
    assert dashboard.secure_cookies is False, "on http://localhost a Secure cookie never comes back"


def test_grpc_servers_present_the_certificate_of_the_name_they_are_dialled_by():
    """The `certs` one-shot names a server's certificate after it (common/dev_certificates.py: CN and DNS
    name), and a caller checks that name against the host it dials: Compose service name, certificate
    name and the callers' *_ADDR host must agree."""
    from common import dev_certificates

    servers = set(dev_certificates.SERVERS) | set(dev_certificates.SERVING_ROLES)
    dialled = {value.rpartition(":")[0] for service in APP.values() for key, value in env_of(service).items()
               if key.endswith("_ADDR")}
    assert dialled <= servers, f"dialled without a server certificate of that name: {sorted(dialled - servers)}"
    for name in dialled:
        assert name in SERVICES, f"no Compose service {name}"
        env = env_of(SERVICES[name])
        assert env["GRPC_TLS_CERT_FILE"] == f"/certs/{name}.crt" and env["GRPC_TLS_KEY_FILE"] == f"/certs/{name}.key"
    for name, service in APP.items():
        env = env_of(service)
        if "GRPC_TLS_CERT_FILE" in env:
            certificate = env["GRPC_TLS_CERT_FILE"].rpartition("/")[2].removesuffix(".crt")
            assert certificate in set(dev_certificates.SERVERS) | set(dev_certificates.ROLES), name


@pytest.mark.parametrize("name", sorted(n for n, s in APP.items() if role_of(s) in LONG_RUNNING) + sorted(INFRA))
def test_long_running_services_have_a_healthcheck(name):
    test = SERVICES[name]["healthcheck"]["test"]
    assert test[0] == "CMD" and len(test) > 1


def probe_of(name: str) -> list[str]:
    """The arguments of deploy/healthcheck.py in a service's healthcheck."""
    test = SERVICES[name]["healthcheck"]["test"]
    assert test[1:3] == ["python", image_path_of("deploy/healthcheck.py")]
    return test[3:]


def test_healthchecks_probe_the_real_ports_and_routes():
    for name, key, service_port in (("customer-service", "customer_service", 50051),
                                    ("identifier-service", "identifier_service", 50052)):
        kind, address = probe_of(name)[:2]
        assert kind == "grpc" and address == f"127.0.0.1:{settings(name)[key].port}" == f"127.0.0.1:{service_port}"
    kind, url = probe_of("gateway")
    parts = urlsplit(url)
    assert kind == "http" and parts.port == settings("gateway")["gateway"].port
    assert parts.path == "/readyz" and "GET" in gateway_routes()[parts.path]
    assert probe_of("processor") == ["grpc", f"127.0.0.1:{settings('processor')['processor'].grpc_port}",
                                     "autentikapp.v1.EventOutcomeService"]
    assert probe_of("gateway-admin") == ["grpc", f"127.0.0.1:{settings('gateway-admin')['gateway_admin'].port}",
                                         "autentikapp.v1.TenantAdminService"]
    kind, url = probe_of("dashboard")
    parts = urlsplit(url)
    assert kind == "http" and parts.port == settings("dashboard")["dashboard"].port and parts.path == "/readyz"
    assert "/readyz" in (ROOT / "dashboard" / "views" / "probes.py").read_text()


@pytest.mark.parametrize("name", sorted(n for n, s in APP.items() if role_of(s) in LONG_RUNNING))
def test_long_running_services_log_json_and_serve_metrics_on_9102(name):
    role = role_of(APP[name])
    assert env_of(APP[name])["LOG_FORMAT"] == "json"
    if role in NO_METRICS:
        assert "METRICS_PORT" not in env_of(APP[name]), f"{role}: {NO_METRICS[role]}"
        return
    assert settings(name)[role.replace("-", "_")].metrics_port == 9102
    assert "9102" not in str(APP[name].get("ports", [])), "metrics stay inside the compose network"


def test_the_gateway_keeps_its_metrics_files_on_the_tmpfs():
    assert env_of(SERVICES["gateway"])["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    assert "/tmp" in SERVICES["gateway"]["tmpfs"], "the root filesystem is read-only"


def test_nats_runs_jetstream_on_a_volume_with_a_health_endpoint():
    nats = SERVICES["nats"]
    assert nats["image"].startswith("nats:") and nats["image"].endswith("-alpine"), "wget comes with alpine"
    command = nats["command"]
    assert "-js" in command
    store = command[command.index("-sd") + 1]
    assert any(volume.endswith(f":{store}") for volume in nats["volumes"])
    monitor = command[command.index("-m") + 1]
    assert f"http://127.0.0.1:{monitor}/healthz" in " ".join(nats["healthcheck"]["test"])


def test_postgres_is_healthy_only_after_its_init_scripts():
    postgres = SERVICES["postgres"]
    test = postgres["healthcheck"]["test"]
    assert "pg_isready" in test and "-h" in test, "TCP: the init phase listens on the socket only"
    assert "./deploy/compose/postgres-init.sql:/docker-entrypoint-initdb.d/10-autentikapp.sql:ro" in postgres["volumes"]


def test_every_database_url_names_a_role_and_database_the_init_script_creates():
    sql = INIT_SQL.read_text()
    roles = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']+)'", sql))
    owners = dict(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", sql))
    expected = dev_databases()
    seen = set()
    for service in APP.values():
        for key, value in env_of(service).items():
            if not key.endswith("_DATABASE_URL"):
                continue
            url = urlsplit(value)
            database = url.path.lstrip("/")
            assert url.hostname == "postgres"
            assert database == expected[key], f"{key}: the database `make run` uses is {expected[key]}"
            assert owners[database] == url.username and roles[url.username] == url.password
            assert url.password.startswith("dev-only"), "compose passwords are visibly fake"
            seen.add(database)
    assert seen == set(owners) == set(expected.values())


def test_the_gateway_key_is_valid_and_visibly_fake():
    for service in APP.values():
        value = env_of(service).get("GATEWAY_ENCRYPTION_KEYS")
        if value is not None:
            keyring = encryption_keys.parse(value)
            assert all(key_id.startswith("dev-") for key_id in keyring.key_ids)
    assert "dev-only-" in SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_start_order_waits_for_health_and_for_the_migrations():
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            assert rule == {"condition": wanted}, f"{name} -> {dependency}"
            if wanted == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{name} waits on {dependency}, which has no healthcheck"


def depends_on_closure(name: str) -> set[str]:
    """Every service `name` depends on, directly or through others: what `docker compose run name`
    starts (each one that is not running) before it."""
    found: set[str] = set()
    todo = [name]
    while todo:
        for dependency in SERVICES[todo.pop()].get("depends_on", {}):
            if dependency not in found:
                found.add(dependency)
                todo.append(dependency)
    return found


@pytest.mark.parametrize("name", sorted(set(APP) - ON_DEMAND))
def test_each_service_waits_for_what_its_settings_point_at(name):
    service = APP[name]
    needs = set()
    for key, value in env_of(service).items():
        if key.endswith("_DATABASE_URL") or key == "NATS_URL":
            needs.add(urlsplit(value).hostname)
        elif key.endswith("_ADDR"):
            needs.add(value.rpartition(":")[0])
        elif key == "GATEWAY_URL":
            needs.add(urlsplit(value).hostname)
    if role_of(service) in LONG_RUNNING:
        needs.add("migrate")
    if "GRPC_TLS_CA_FILE" in env_of(service):
        needs.add(CERTS)
    waits_for = set(service.get("depends_on", {}))
    if "migrate" in waits_for:
        waits_for.add("postgres")  # the migrations complete only once Postgres is healthy
    assert needs <= waits_for, f"{name} starts before {sorted(needs - waits_for)}"


def test_long_running_services_leave_migrations_to_the_migrate_service():
    for service in APP.values():
        if role_of(service) in LONG_RUNNING:
            assert env_of(service)["MIGRATE_ON_START"] == "false"


def test_shutdown_has_time_to_drain():
    for service in APP.values():
        grace = float(env_of(service).get("SHUTDOWN_GRACE_SECONDS", 10))
        assert int(service["stop_grace_period"].rstrip("s")) > grace


def test_app_containers_are_locked_down():
    for name, service in APP.items():
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"] and "no-new-privileges:true" in service["security_opt"], name
        assert "user" not in service, "the image's non-root user (uid 10001) is the one"


def test_gateway_workers_are_set_explicitly():
    """Unset, gunicorn's worker count would be the host's CPU count, not the container's share."""
    assert "GATEWAY_WORKERS" in env_of(SERVICES["gateway"])


def test_the_cli_is_on_demand_only():
    assert SERVICES["cli"]["profiles"] == ["tools"] and SERVICES["cli"]["restart"] == "no"
    assert SERVICES["migrate"]["restart"] == "no"


def test_up_migrates_once_and_the_cli_does_not_migrate_again():
    """`docker compose run cli ...` starts whatever cli depends on, directly or transitively, that is not
    running, and an exited one-shot is not running: cli depending on migrate, or on a service that
    depends on migrate, re-ran the migrations before every CLI command. `up` alone runs them."""
    one_shots = {name for name, s in SERVICES.items() if s.get("restart") == "no"} - ON_DEMAND
    assert one_shots == ONE_SHOTS, "up runs migrate and certs (they are in no profile)"
    for name, service in APP.items():
        if role_of(service) in LONG_RUNNING:
            assert "migrate" in depends_on_closure(name), f"{name} may start before the migrations"
    assert ON_DEMAND == {"cli"}
    for name in ON_DEMAND:
        started_by_run = depends_on_closure(name)
        assert not started_by_run & one_shots, f"`docker compose run {name}` would re-run {sorted(started_by_run & one_shots)}"
