"""deploy/k8s: each kustomization built offline (kustomize_lite), every object validated against the
Kubernetes 1.33 OpenAPI schemas (kubernetes-validate, strict: unknown fields fail; cert-manager's kinds
against crd_schemas), and the manifests checked against the code: roles, variables, ports, probes,
security, secrets. The internal plane (certificates, network policies, NATS users): test_k8s_internal_plane.py.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from urllib.parse import urlsplit

import crd_schemas
import jsonschema
import kubernetes_validate
import pytest
import yaml
from config_names import ROOT
from deploy_roles import (
    LONG_RUNNING,
    NO_METRICS,
    NOT_READ_BY_OUR_CODE,
    REQUIRED_ENV,
    ROLES,
    SECRET_ENV,
    env_read_by,
    gateway_routes,
    grpc_services,
    nats_secret,
    settings_for,
    tls_stand_ins,
)
from kustomize_lite import Unsupported, build, find, load_yaml_documents, merge, pod_spec, split_image, set_image

from gateway import encryption_keys

K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
# The operator's on-demand CLI pod and certificate (applied by hand, not part of the system's build).
OPERATOR = K8S / "operator"
KUBERNETES_VERSION = "1.33"
SECRET_NAME = "autentikapp-secrets"
# NATS_PASSWORD comes from the Secret of the pod's NATS user (deploy_roles.nats_secret), key `password`.
IMAGE_UID = 10001
METRICS_PORT = 9102
# Stand-ins for the Secret's values, to run the code's settings parsers on a pod's environment.
SECRET_STAND_INS = {
    "GATEWAY_ENCRYPTION_KEYS": encryption_keys.new_entry("test"),
    **{name: "postgresql://user:stand-in@db.example.internal:5432/db" for name in SECRET_ENV
       if name.endswith("DATABASE_URL")},
    "NATS_PASSWORD": "stand-in",
}
BUILDS = {"base": BASE, "production": PRODUCTION}


@pytest.fixture(scope="module", params=sorted(BUILDS))
def objects(request) -> list[dict]:
    """Every object of one kustomization, built."""
    return build(BUILDS[request.param])


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return build(PRODUCTION)


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def workloads(objects: list[dict]) -> list[dict]:
    return [obj for obj in objects if pod_spec(obj) is not None]


def only_container(obj: dict) -> dict:
    containers = pod_spec(obj)["containers"]
    assert len(containers) == 1, f"{obj['metadata']['name']}: one container per pod"
    return containers[0]


def role_of(obj: dict) -> str:
    container = only_container(obj)
    assert "command" not in container, "`command` would bypass the image's entrypoint; set `args`"
    return container["args"][0]


def pod_env(objects: list[dict], obj: dict) -> dict[str, str | None]:
    """A workload's environment: ConfigMap keys (envFrom, configMapKeyRef) and env; a secretKeyRef's value
    is None."""
    container = only_container(obj)
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, "envFrom only from ConfigMaps: secrets go through secretKeyRef"
        config_map = find(objects, "ConfigMap", source["configMapRef"]["name"])
        assert config_map is not None, f"no ConfigMap {source['configMapRef']['name']}"
        env.update(config_map["data"])
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value")
        key_ref = entry.get("valueFrom", {}).get("configMapKeyRef")
        if key_ref:
            config_map = find(objects, "ConfigMap", key_ref["name"])
            assert config_map is not None, f"no ConfigMap {key_ref['name']}"
            env[entry["name"]] = config_map["data"][key_ref["key"]]
    return env


def settings(objects: list[dict], obj: dict) -> dict:
    """The code's own settings parsed from a workload's environment (secrets replaced by stand-ins)."""
    env = {name: SECRET_STAND_INS[name] if value is None else value for name, value in pod_env(objects, obj).items()}
    return settings_for(role_of(obj), {**env, **tls_stand_ins(env)})


def deployment(objects: list[dict], component: str) -> dict:
    found = find(objects, "Deployment", component)
    assert found is not None, f"no Deployment {component}"
    return found


def container_port(obj: dict, name: str) -> int:
    ports = {port["name"]: port["containerPort"] for port in only_container(obj)["ports"]}
    return ports[name]


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def cpu_cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


# ---------------------------------------------------------------------------------------------------
# The loader itself


def test_the_loader_merges_like_strategic_merge_and_refuses_what_it_does_not_know(tmp_path: Path):
    base = {"spec": {"replicas": 1, "containers": [{"name": "a", "image": "x", "env": [{"name": "K", "value": "1"}]}],
                     "gone": 1}}
    merge(base, {"spec": {"replicas": 3, "gone": None,
                          "containers": [{"name": "a", "env": [{"name": "L", "value": "2"}]}, {"name": "b"}]}})
    assert base == {"spec": {"replicas": 3, "containers": [
        {"name": "a", "image": "x", "env": [{"name": "K", "value": "1"}, {"name": "L", "value": "2"}]},
        {"name": "b"}]}}
    with pytest.raises(Unsupported):
        merge({"spec": {"ports": [{"port": 1}]}}, {"spec": {"ports": [{"port": 2}]}})
    (tmp_path / "kustomization.yaml").write_text("resources: []\nconfigMapGenerator: []\n")
    with pytest.raises(Unsupported):
        build(tmp_path)


def test_the_loader_sets_images_like_kustomize():
    assert split_image("registry:5000/a/b:1.2@sha256:ab") == ("registry:5000/a/b", "1.2", "sha256:ab")
    job = {"kind": "Job", "spec": {"template": {"spec": {"containers": [{"image": "app:dev"}, {"image": "other:1"}]}}}}
    set_image([job], {"name": "app", "newName": "r.example/app", "newTag": "0.1.0"})
    assert [c["image"] for c in job["spec"]["template"]["spec"]["containers"]] == ["r.example/app:0.1.0", "other:1"]


def test_every_manifest_file_is_part_of_a_kustomization():
    used = set()
    for folder in (BASE, PRODUCTION, OPERATOR):
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        used |= {(folder / r).resolve() for r in kustomization.get("resources", [])}
        used |= {(folder / p["path"]).resolve() for p in kustomization.get("patches", [])}
    files = {p.resolve() for p in K8S.rglob("*.yaml")} - {K8S / "nats-values.yaml"}
    files = {f for f in files if f.name != "kustomization.yaml"}
    assert files <= used, f"not referenced: {sorted(str(f) for f in files - used)}"


# ---------------------------------------------------------------------------------------------------
# Schema


def validate_object(obj: dict) -> None:
    """kubernetes-validate for Kubernetes' own kinds, crd_schemas for cert-manager's; fail naming the field."""
    try:
        if crd_schemas.knows(obj):
            crd_schemas.validate(obj)
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
        where = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {where}: {exc.message}")


def test_every_object_is_valid_for_kubernetes(objects):
    for obj in objects:
        validate_object(obj)


def test_the_operator_objects_are_valid_for_kubernetes():
    for obj in build(OPERATOR):
        validate_object(obj)


def test_the_custom_resource_schemas_refuse_unknown_fields():
    certificate = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "x"},
                   "spec": {"secretName": "x", "issuerRef": {"name": "ca"}, "usages": ["client auth"]}}
    crd_schemas.validate(certificate)
    for bad in ({"commonname": "x"}, {"usages": ["client-auth"]}, {"duration": "90d"}):
        with pytest.raises(jsonschema.ValidationError):
            crd_schemas.validate({**certificate, "spec": {**certificate["spec"], **bad}})
    with pytest.raises(jsonschema.ValidationError):
        crd_schemas.validate({"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "x"},
                              "spec": {"selfSigned": {}, "ca": {"secretName": "x"}}})


def test_the_expected_objects_exist(objects):
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    for component in ("gateway", "processor", "customer-service", "identifier-service", "gateway-admin", "dashboard"):
        assert ("Deployment", component) in names
        assert ("Service", component) in names
        assert ("PodDisruptionBudget", component) in names
    assert {("HorizontalPodAutoscaler", "gateway"), ("HorizontalPodAutoscaler", "processor"),
            ("Job", "autentikapp-migrate"), ("Ingress", "gateway"), ("Ingress", "dashboard")} <= names
    assert {("Issuer", "autentikapp-selfsigned"), ("Certificate", "autentikapp-grpc-ca"),
            ("Issuer", "autentikapp-grpc-ca"), ("NetworkPolicy", "autentikapp-default-deny")} <= names
    assert not of_kind(objects, "Secret"), "Secrets are created from a secret store, never kept here"


# ---------------------------------------------------------------------------------------------------
# Roles and variables


def test_workloads_cover_every_role_but_the_cli(objects):
    roles = {role_of(obj): obj["kind"] for obj in workloads(objects)}
    assert set(roles) == ROLES - {"cli"}
    assert roles["migrate"] == "Job" and all(roles[r] == "Deployment" for r in LONG_RUNNING)


def test_every_variable_set_is_read_by_that_role(objects):
    for obj in workloads(objects):
        role = role_of(obj)
        unknown = set(pod_env(objects, obj)) - env_read_by(role) - set(NOT_READ_BY_OUR_CODE)
        assert not unknown, f"{obj['metadata']['name']} ({role}) sets variables its code never reads: {sorted(unknown)}"


def test_every_variable_the_role_requires_is_set(objects):
    for obj in workloads(objects):
        missing = REQUIRED_ENV[role_of(obj)] - set(pod_env(objects, obj))
        assert not missing, f"{obj['metadata']['name']} lacks {sorted(missing)}"


def test_the_code_accepts_every_value(objects):
    for obj in workloads(objects):
        settings(objects, obj)  # raises ConfigError naming the variable otherwise


def test_processes_leave_migrations_to_the_job(objects):
    for obj in workloads(objects):
        if role_of(obj) in LONG_RUNNING:
            assert pod_env(objects, obj)["MIGRATE_ON_START"] == "false"


def test_secrets_come_only_from_the_secret_by_reference(objects):
    for obj in workloads(objects):
        env = pod_env(objects, obj)
        for entry in only_container(obj).get("env", []):
            if entry["name"] in SECRET_ENV:
                ref = entry["valueFrom"]["secretKeyRef"]
                assert ref == {"name": SECRET_NAME, "key": entry["name"]}, entry
            if entry["name"] == "NATS_PASSWORD":
                ref = entry["valueFrom"]["secretKeyRef"]
                assert ref == {"name": nats_secret(env["NATS_USER"]), "key": "password"}, entry
            assert "value" not in entry or entry["name"] not in SECRET_ENV | {"NATS_PASSWORD"}
    for config_map in of_kind(objects, "ConfigMap"):
        held = (SECRET_ENV | {"NATS_PASSWORD"}) & set(config_map["data"])
        assert not held, f"{config_map['metadata']['name']} holds a secret"


def looks_like_a_secret(value: str) -> bool:
    """A URL with a password, or base64 of 32 bytes (a key), anywhere in a string."""
    if re.search(r"://[^/\s:@]+:[^@\s]+@", value):
        return True
    for candidate in re.findall(r"[A-Za-z0-9+/]{43}=", value):
        try:
            if len(base64.b64decode(candidate, validate=True)) == 32:
                return True
        except binascii.Error:
            pass
    return False


def test_no_literal_secret_anywhere_in_the_manifests():
    assert looks_like_a_secret("postgresql://u:p@h/db") and looks_like_a_secret(encryption_keys.new_entry("k"))
    for path in K8S.rglob("*.yaml"):
        for document in load_yaml_documents(path):
            for value in yaml.safe_dump(document).split("\n"):
                assert not looks_like_a_secret(value), f"{path.relative_to(ROOT)}: {value.strip()}"


def test_the_secret_keys_are_documented():
    docs = (ROOT / "docs" / "operations.md").read_text()
    refs = [entry["valueFrom"]["secretKeyRef"] for obj in workloads(build(BASE))
            for entry in only_container(obj).get("env", []) if "secretKeyRef" in entry.get("valueFrom", {})]
    keys = {ref["key"] for ref in refs if ref["name"] == SECRET_NAME}
    assert keys == {"CUSTOMER_SERVICE_DATABASE_URL", "IDENTIFIER_SERVICE_DATABASE_URL", "GATEWAY_DATABASE_URL",
                    "PROCESSOR_DATABASE_URL", "DASHBOARD_DATABASE_URL", "GATEWAY_ENCRYPTION_KEYS"}
    for key in keys:
        assert f"`{key}`" in docs, f"docs/operations.md does not list the Secret key {key}"
    assert SECRET_NAME in docs
    others = {ref["name"] for ref in refs if ref["name"] != SECRET_NAME}
    assert others == {nats_secret("gateway"), nats_secret("processor"), nats_secret("gateway_admin")}
    for name in others | {nats_secret("operator"), nats_secret("backup")}:
        assert f"`{name}`" in docs, f"docs/operations.md does not name the Secret {name}"


# ---------------------------------------------------------------------------------------------------
# Ports, probes, Services


def test_ports_agree_with_the_code(objects):
    assert container_port(deployment(objects, "gateway"), "http") == settings(objects, deployment(objects, "gateway"))["gateway"].port
    for component, key in (("customer-service", "customer_service"), ("identifier-service", "identifier_service"),
                           ("gateway-admin", "gateway_admin")):
        obj = deployment(objects, component)
        assert container_port(obj, "grpc") == settings(objects, obj)[key].port
    processor = deployment(objects, "processor")
    assert container_port(processor, "grpc") == settings(objects, processor)["processor"].grpc_port
    dashboard = deployment(objects, "dashboard")
    assert container_port(dashboard, "http") == settings(objects, dashboard)["dashboard"].port


def test_metrics_port_is_named_announced_and_configured(objects):
    for obj in of_kind(objects, "Deployment"):
        if role_of(obj) in NO_METRICS:
            assert "metrics" not in {port["name"] for port in only_container(obj)["ports"]}, NO_METRICS[role_of(obj)]
            assert "prometheus.io/scrape" not in obj["spec"]["template"]["metadata"].get("annotations", {})
            assert "METRICS_PORT" not in pod_env(objects, obj)
            continue
        port = container_port(obj, "metrics")
        annotations = obj["spec"]["template"]["metadata"]["annotations"]
        assert port == METRICS_PORT == int(pod_env(objects, obj)["METRICS_PORT"])
        assert annotations["prometheus.io/scrape"] == "true" and int(annotations["prometheus.io/port"]) == port
        service = find(objects, "Service", obj["metadata"]["name"])
        assert any(p["name"] == "metrics" and p["targetPort"] == "metrics" for p in service["spec"]["ports"])


def test_every_process_serves_metrics_where_the_pod_announces_them_and_logs_json(objects):
    for obj in of_kind(objects, "Deployment"):
        role = role_of(obj)
        assert pod_env(objects, obj)["LOG_FORMAT"] == "json", role
        if role in NO_METRICS:
            continue
        parsed = settings(objects, obj)[role.replace("-", "_")]
        assert parsed.metrics_port == container_port(obj, "metrics"), role
    gateway = deployment(objects, "gateway")
    directory = pod_env(objects, gateway)["PROMETHEUS_MULTIPROC_DIR"]
    mounts = {mount["mountPath"]: mount["name"] for mount in only_container(gateway)["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod_spec(gateway)["volumes"]}
    assert "emptyDir" in volumes[mounts[directory]], "gunicorn's metrics files on a writable, per-pod volume"


def test_grpc_services_are_probed_over_mutual_tls_on_their_port(objects):
    """The kubelet's native gRPC probe cannot present a client certificate, so the services are probed by
    the image's healthcheck, which calls grpc.health.v1 with the pod's own certificate (GRPC_TLS_*)."""
    for component, service_name in (("customer-service", "autentikapp.v1.CustomerService"),
                                    ("identifier-service", "autentikapp.v1.IdentifierService"),
                                    ("gateway-admin", "autentikapp.v1.TenantAdminService")):
        obj = deployment(objects, component)
        container = only_container(obj)
        port = container_port(obj, "grpc")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            command = container[probe]["exec"]["command"]
            assert command[:4] == ["python", "/opt/autentikapp/healthcheck.py", "grpc", f"localhost:{port}"], \
                f"{component} {probe}"
        assert container["readinessProbe"]["exec"]["command"][4:] == [service_name]
        assert service_name in grpc_services()
        assert {"GRPC_TLS_CA_FILE", "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE"} <= set(pod_env(objects, obj))


@pytest.mark.parametrize("component, routes_folder", [("gateway", "gateway"), ("dashboard", "dashboard/views")])
def test_http_probes_use_the_real_routes(objects, component, routes_folder):
    container = only_container(deployment(objects, component))
    routes = gateway_routes(routes_folder)
    paths = {}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        http = container[probe]["httpGet"]
        assert http["port"] == "http"
        assert "GET" in routes[http["path"]], f"{probe}: {http['path']} is not a GET route of the {component}"
        paths[probe] = http["path"]
    assert paths["livenessProbe"] == "/healthz" and paths["readinessProbe"] == "/readyz"


def test_the_processor_is_probed_for_readiness_only_on_its_grpc_server(objects):
    """Readiness keeps the Service's endpoints to processors that serve EventOutcomeService (NOT_SERVING
    from the stop on); no liveness or startup probe: an answer would not prove the consumer progresses."""
    obj = deployment(objects, "processor")
    container = only_container(obj)
    assert not {"startupProbe", "livenessProbe"} & set(container)
    command = container["readinessProbe"]["exec"]["command"]
    assert command == ["python", "/opt/autentikapp/healthcheck.py", "grpc", f"localhost:{container_port(obj, 'grpc')}",
                       "autentikapp.v1.EventOutcomeService"]
    assert "autentikapp.v1.EventOutcomeService" in grpc_services()


def test_services_select_their_pods_and_target_named_ports(objects):
    for service in of_kind(objects, "Service"):
        selector = service["spec"]["selector"]
        matched = [d for d in of_kind(objects, "Deployment")
                   if selects(selector, d["spec"]["template"]["metadata"]["labels"])]
        assert len(matched) == 1, f"Service {service['metadata']['name']} selects {len(matched)} Deployments"
        names = {port["name"] for port in only_container(matched[0])["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names


def test_grpc_clients_reach_the_servers_through_their_service_ports(objects):
    processor = settings(objects, deployment(objects, "processor"))["processor"]
    dashboard = settings(objects, deployment(objects, "dashboard"))["dashboard"]
    for address, component in ((processor.customer_service_addr, "customer-service"),
                               (processor.identifier_service_addr, "identifier-service"),
                               (dashboard.gateway_admin_addr, "gateway-admin"),
                               (dashboard.processor_addr, "processor")):
        host, _, port = address.rpartition(":")
        service = find(objects, "Service", host.split(".")[0])
        assert service is not None and host.split(".")[0] == component
        grpc_port = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
        assert grpc_port["port"] == int(port)
        assert grpc_port["targetPort"] == "grpc"


def test_gateway_admin_posts_test_sales_to_the_gateways_service(objects):
    admin = settings(objects, deployment(objects, "gateway-admin"))["gateway_admin"]
    url = urlsplit(admin.gateway_url)
    service = find(objects, "Service", url.hostname.split(".")[0])
    assert service is not None and url.hostname.split(".")[0] == "gateway"
    port = next(p for p in service["spec"]["ports"] if p["port"] == (url.port or 80))
    assert port["targetPort"] == "http"


def test_the_dashboard_shows_the_gateways_public_url(objects):
    dashboard = settings(objects, deployment(objects, "dashboard"))["dashboard"]
    public = find(objects, "ConfigMap", "autentikapp-gateway")["data"]["PUBLIC_BASE_URL"]
    assert dashboard.public_base_url == public.rstrip("/")
    assert dashboard.secure_cookies is True, "behind the ingress: https, Secure cookies"
    assert dashboard.trusted_proxies == 1, "the ingress controller, and nothing else, sets X-Forwarded-*"


def test_the_dashboard_ingress_sends_everything_to_the_dashboard(objects):
    ingress = find(objects, "Ingress", "dashboard")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "dashboard"
            service = find(objects, "Service", backend["name"])
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_the_ingress_exposes_only_the_webhook_route(objects):
    ingress = find(objects, "Ingress", "gateway")
    webhook_routes = [path for path, methods in gateway_routes().items() if "POST" in methods]
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert any(route.startswith(path["path"] + "/") for route in webhook_routes)
            backend = path["backend"]["service"]
            service = find(objects, "Service", backend["name"])
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


# ---------------------------------------------------------------------------------------------------
# Availability and scaling


def test_autoscalers_target_deployments_that_leave_the_count_to_them(objects):
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        target = deployment(objects, hpa["spec"]["scaleTargetRef"]["name"])
        assert "replicas" not in target["spec"], "an apply would fight the autoscaler over replicas"
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert all("cpu" in str(m) for m in hpa["spec"]["metrics"])
        assert only_container(target)["resources"]["requests"]["cpu"], "CPU utilisation needs a CPU request"


def test_every_deployment_has_a_disruption_budget_and_spreads(objects):
    budgets = of_kind(objects, "PodDisruptionBudget")
    for obj in of_kind(objects, "Deployment"):
        labels = obj["spec"]["template"]["metadata"]["labels"]
        assert selects(obj["spec"]["selector"]["matchLabels"], labels)
        assert sum(selects(b["spec"]["selector"]["matchLabels"], labels) for b in budgets) == 1
        spread = pod_spec(obj)["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
        assert all(selects(c["labelSelector"]["matchLabels"], labels) for c in spread)


def test_shutdown_has_time_to_drain(objects):
    for obj in workloads(objects):
        if role_of(obj) not in LONG_RUNNING:
            continue
        grace = float(pod_env(objects, obj).get("SHUTDOWN_GRACE_SECONDS") or 10)
        pre_stop = only_container(obj).get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        sleep = float(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
        assert pod_spec(obj)["terminationGracePeriodSeconds"] > grace + sleep


def test_gateway_workers_fit_its_cpu_limit(objects):
    obj = deployment(objects, "gateway")
    workers = settings(objects, obj)["gateway"].workers
    assert "GATEWAY_WORKERS" in pod_env(objects, obj), "unset, it is the node's CPU count"
    assert workers <= cpu_cores(only_container(obj)["resources"]["limits"]["cpu"])


# ---------------------------------------------------------------------------------------------------
# Security


def test_pods_run_non_root_read_only_without_privileges(objects):
    for obj in workloads(objects):
        spec = pod_spec(obj)
        name = obj["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == IMAGE_UID == spec["securityContext"]["runAsGroup"]
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        container = only_container(obj)
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name}: {kind}"
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{name}: a writable /tmp"
        multiproc = pod_env(objects, obj).get("PROMETHEUS_MULTIPROC_DIR")
        if multiproc:
            assert multiproc in mounts and "emptyDir" in volumes[mounts[multiproc]]


def test_one_image_for_every_workload(objects):
    images = {only_container(obj)["image"] for obj in workloads(objects)}
    assert len(images) == 1


# ---------------------------------------------------------------------------------------------------
# Production


def test_production_runs_a_replicated_bus_and_more_of_everything(production):
    base = build(BASE)
    assert find(production, "ConfigMap", "autentikapp-bus")["data"]["BUS_REPLICAS"] == "3"
    nats_url = find(production, "ConfigMap", "autentikapp-bus")["data"]["NATS_URL"]
    assert urlsplit(nats_url).hostname.endswith(".svc.cluster.local")
    for hpa in of_kind(production, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] >= 3
    for component in ("customer-service", "identifier-service"):
        assert deployment(production, component)["spec"]["replicas"] >= 3
    for obj in of_kind(production, "Deployment"):
        before = only_container(find(base, "Deployment", obj["metadata"]["name"]))["resources"]["limits"]
        after = only_container(obj)["resources"]["limits"]
        assert cpu_cores(after["cpu"]) > cpu_cores(before["cpu"])
    assert all(obj["metadata"].get("namespace") == "autentikapp"
               for obj in production if obj["kind"] != "Namespace")


def test_production_pins_the_image_and_serves_tls(production):
    for obj in workloads(production):
        name, tag, digest = split_image(only_container(obj)["image"])
        assert "." in name.split("/")[0], "a registry host"
        assert digest or (tag and tag not in {"latest", "dev"})
    ingress = find(production, "Ingress", "gateway")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts and hosts <= {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
    public = find(production, "ConfigMap", "autentikapp-gateway")["data"]["PUBLIC_BASE_URL"]
    assert urlsplit(public).scheme == "https" and urlsplit(public).hostname in hosts
    dashboard = find(production, "Ingress", "dashboard")
    dashboard_hosts = {rule["host"] for rule in dashboard["spec"]["rules"]}
    assert dashboard_hosts and dashboard_hosts <= {h for tls in dashboard["spec"]["tls"] for h in tls["hosts"]}
    assert not dashboard_hosts & hosts, "the dashboard on a host of its own, not beside the webhook endpoint"


def test_production_namespace_enforces_the_restricted_pod_security_standard(production):
    namespace = find(production, "Namespace", "autentikapp")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_nats_values_make_a_three_node_jetstream_cluster_on_volumes(production):
    values = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    replicas = values["config"]["cluster"]["replicas"]
    assert values["config"]["cluster"]["enabled"] is True and replicas == 3
    assert int(find(production, "ConfigMap", "autentikapp-bus")["data"]["BUS_REPLICAS"]) == replicas
    store = values["config"]["jetstream"]
    assert store["enabled"] is True and store["fileStore"]["enabled"] is True
    assert store["fileStore"]["pvc"]["enabled"] is True
    nats_url = find(production, "ConfigMap", "autentikapp-bus")["data"]["NATS_URL"]
    assert urlsplit(nats_url).port == 4222


def test_the_first_install_steps_select_what_the_migrate_job_needs(production):
    """docs/operations.md applies `component=config`, then `component=migrate`, then everything."""
    job = find(production, "Job", "autentikapp-migrate")
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"
    for source in only_container(job).get("envFrom", []):
        config_map = find(production, "ConfigMap", source["configMapRef"]["name"])
        assert config_map["metadata"]["labels"]["app.kubernetes.io/component"] == "config"
    namespace = find(production, "Namespace", "autentikapp")
    assert namespace["metadata"]["labels"]["app.kubernetes.io/component"] == "config"
    docs = (ROOT / "docs" / "operations.md").read_text()
    assert "-l app.kubernetes.io/component=config" in docs and "-l app.kubernetes.io/component=migrate" in docs
