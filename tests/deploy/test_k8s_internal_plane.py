"""The internal plane in deploy/k8s (issue 13; docs/operations.md "The internal plane"), offline:

- certificates: cert-manager's CA chain, one certificate per gRPC server (named as its Service) and per
  gRPC client role (its Common Name; the processor's, a client that serves too, is both), mounted read-only into exactly the pods that serve or call gRPC,
  with the three GRPC_TLS_* variables pointing at the files;
- network policies: evaluated like a network plugin would (selectors, namespaces, address blocks, named
  ports) over every pair of endpoints and every port in play, the allowed flows must be exactly the
  flows the code needs, derived from the manifests (Services, ports, NATS_URL, the pods' variables);
- NATS users (deploy/k8s/nats-values.yaml): one per role, passwords from Secrets, and permissions that
  let each role do what the code does (subjects and JetStream API calls from common/bus.py and the code
  that uses it) and nothing the brief forbids (the gateway consumes nothing, the processor does not
  publish work, only the processor creates streams).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import yaml
from deploy_roles import (
    GRPC_CLIENT_ROLES,
    GRPC_SERVERS,
    GRPC_TLS_ENV,
    NATS_BOX_USER,
    NATS_USERS,
    REQUIRED_ENV,
    SERVING_CLIENTS,
    env_read_by,
    nats_secret,
    settings_for,
    tls_stand_ins,
)
from kustomize_lite import build, find, pod_spec
from test_k8s_manifests import (
    BASE,
    K8S,
    OPERATOR,
    PRODUCTION,
    SECRET_STAND_INS,
    of_kind,
    only_container,
    pod_env,
    workloads,
)

from common import bus
from processor import dead_letter_admin

BUILDS = {"base": BASE, "production": PRODUCTION}
NAMESPACE = "autentikapp"  # the production overlay's; the base is evaluated as if applied there
CA_ISSUER = "autentikapp-grpc-ca"
CERT_SECRET_PREFIX = "autentikapp-grpc-tls-"
# Which file of a cert-manager Secret each variable names.
TLS_FILES = {"GRPC_TLS_CA_FILE": "ca.crt", "GRPC_TLS_CERT_FILE": "tls.crt", "GRPC_TLS_KEY_FILE": "tls.key"}
CLIENT_ROLES = {"processor", "operator", "dashboard"}  # certificate Common Names the services may see
NATS_VALUES = yaml.safe_load((K8S / "nats-values.yaml").read_text())


@pytest.fixture(scope="module", params=sorted(BUILDS))
def objects(request) -> list[dict]:
    """One kustomization, built, with the operator's on-demand objects (their ConfigMap references
    resolve against it, as they would in the namespace)."""
    return build(BUILDS[request.param]) + build(OPERATOR)


def pods(objects: list[dict]) -> list[dict]:
    """Every pod-making object: the workloads and the operator's CLI pod."""
    return workloads(objects)


def role(obj: dict) -> str:
    """The image role a pod runs: its entrypoint argument, or `cli` for the operator's idle CLI pod."""
    container = only_container(obj)
    if "command" in container:
        labels = obj["metadata"]["labels"]
        assert obj["kind"] == "Pod" and labels["app.kubernetes.io/component"] == "cli", \
            f"{obj['metadata']['name']}: only the operator's CLI pod bypasses the entrypoint"
        return "cli"
    return container["args"][0]


def pod_labels(obj: dict) -> dict[str, str]:
    return obj["metadata"]["labels"] if obj["kind"] == "Pod" else obj["spec"]["template"]["metadata"]["labels"]


# ---------------------------------------------------------------------------------------------------
# Certificates


def certificates(objects: list[dict]) -> dict[str, dict]:
    return {c["metadata"]["name"]: c for c in of_kind(objects, "Certificate")}


def test_a_private_ca_signs_every_certificate(objects):
    issuers = {i["metadata"]["name"]: i for i in of_kind(objects, "Issuer")}
    certs = certificates(objects)
    ca_cert = certs[CA_ISSUER]
    assert ca_cert["spec"]["isCA"] is True
    root = issuers[ca_cert["spec"]["issuerRef"]["name"]]
    assert ca_cert["spec"]["issuerRef"]["kind"] == "Issuer" and "selfSigned" in root["spec"]
    assert issuers[CA_ISSUER]["spec"]["ca"]["secretName"] == ca_cert["spec"]["secretName"]
    assert not of_kind(objects, "ClusterIssuer"), "a CA of this namespace only"
    for name, cert in certs.items():
        if name == CA_ISSUER:
            continue
        spec = cert["spec"]
        assert spec["issuerRef"] == {"name": CA_ISSUER, "kind": "Issuer", "group": "cert-manager.io"}, name
        assert not spec.get("isCA"), name
        assert name.startswith(CERT_SECRET_PREFIX) and spec["secretName"] == name, name
        assert spec["privateKey"]["rotationPolicy"] == "Always", f"{name}: a new key at each renewal"


def test_servers_are_named_as_their_services_and_clients_by_their_role(objects):
    certs = {c["spec"]["commonName"]: c["spec"] for n, c in certificates(objects).items() if n != CA_ISSUER}
    for server in GRPC_SERVERS | set(SERVING_CLIENTS):
        spec = certs[server]
        assert find(objects, "Service", server) is not None
        assert {server, f"{server}.{NAMESPACE}.svc.cluster.local"} <= set(spec["dnsNames"])
        # client auth too, and localhost: the pod's exec probes call it with its own certificate. Its
        # common name is no role, so the services let it ask for health and nothing else.
        assert "server auth" in spec["usages"] and "client auth" in spec["usages"] and "localhost" in spec["dnsNames"]
        # A serving client (the processor) keeps its role as its common name: the services it calls see it.
        assert (server in CLIENT_ROLES) == (server in SERVING_CLIENTS)
        assert spec["secretName"] == CERT_SECRET_PREFIX + server
    clients = {cn: spec for cn, spec in certs.items() if cn not in GRPC_SERVERS | set(SERVING_CLIENTS)}
    assert set(clients) <= CLIENT_ROLES, f"unknown roles: {set(clients) - CLIENT_ROLES}"
    for cn, spec in clients.items():
        assert spec["usages"] == ["client auth", "digital signature"], cn
        assert "dnsNames" not in spec, f"{cn}: a client certificate names a role, not a host"
        assert spec["secretName"] == CERT_SECRET_PREFIX + cn


def test_grpc_clients_dial_names_their_servers_certificates_hold(objects):
    certs = {c["spec"]["commonName"]: c["spec"] for c in of_kind(objects, "Certificate")}
    for client, variable, server in (("processor", "CUSTOMER_SERVICE_ADDR", "customer-service"),
                                     ("processor", "IDENTIFIER_SERVICE_ADDR", "identifier-service"),
                                     ("dashboard", "GATEWAY_ADMIN_ADDR", "gateway-admin"),
                                     ("dashboard", "PROCESSOR_ADDR", "processor")):
        env = pod_env(objects, find(objects, "Deployment", client))
        host, _, port = env[variable].rpartition(":")
        assert host in certs[server]["dnsNames"], f"{client} {variable}={env[variable]}: hostname verification would fail"
        if server in SERVING_CLIENTS:
            assert int(port) == SERVING_CLIENTS[server]
    for obj in pods(objects):
        for variable, value in pod_env(objects, obj).items():
            if variable.endswith("_ADDR") and value:
                assert value.rpartition(":")[0] in {spec["commonName"] for spec in certs.values()}, \
                    f"{obj['metadata']['name']} dials {value}, which no server certificate names"


def test_the_operator_certificate_is_issued_on_demand_only():
    for folder in BUILDS.values():
        assert "operator" not in {c["spec"].get("commonName") for c in of_kind(build(folder), "Certificate")}, \
            "the operator's certificate is not part of the system: deploy/k8s/operator/ issues it on demand"
    (operator_cert,) = of_kind(build(OPERATOR), "Certificate")
    assert operator_cert["spec"]["commonName"] == "operator"
    assert operator_cert["spec"]["duration"].endswith("h") and int(operator_cert["spec"]["duration"][:-1]) <= 24
    (pod,) = of_kind(build(OPERATOR), "Pod")
    assert pod["spec"]["activeDeadlineSeconds"] <= 24 * 3600, "the CLI pod stops by itself"


def test_the_operator_kustomization_pins_the_production_image():
    images = [yaml.safe_load((folder / "kustomization.yaml").read_text())["images"] for folder in (OPERATOR, PRODUCTION)]
    assert images[0] == images[1]


def grpc_role_certificate(obj: dict) -> str | None:
    """The Secret a pod's certificate must come from: its server's or its client role's; None if no gRPC."""
    name = role(obj)
    if name in GRPC_SERVERS:
        return CERT_SECRET_PREFIX + name
    if name in GRPC_CLIENT_ROLES:
        return CERT_SECRET_PREFIX + GRPC_CLIENT_ROLES[name]
    return None


def test_every_grpc_workload_mounts_its_certificate_and_sets_the_three_variables(objects):
    certs = {c["spec"]["secretName"] for c in of_kind(objects, "Certificate")}
    for obj in pods(objects):
        name = obj["metadata"]["name"]
        container = only_container(obj)
        env = pod_env(objects, obj)
        secret_volumes = {v["name"]: v["secret"] for v in pod_spec(obj)["volumes"] if "secret" in v}
        mounts = [m for m in container.get("volumeMounts", []) if m["name"] in secret_volumes]
        wanted = grpc_role_certificate(obj)
        if wanted is None:
            assert not set(GRPC_TLS_ENV) & set(env), f"{name} calls no gRPC, yet sets {set(GRPC_TLS_ENV) & set(env)}"
            assert not mounts, f"{name} calls no gRPC, yet mounts a Secret"
            continue
        assert wanted in certs, f"{name}: no Certificate writes {wanted}"
        (mount,) = [m for m in mounts if secret_volumes[m["name"]]["secretName"] == wanted]
        assert mount.get("readOnly") is True and "subPath" not in mount, f"{name}: read-only, renewals visible"
        assert secret_volumes[mount["name"]]["defaultMode"] & 0o037 == 0, f"{name}: key readable by others"
        for variable, file_name in TLS_FILES.items():
            assert env.get(variable) == f"{mount['mountPath']}/{file_name}", f"{name}: {variable}"


def test_grpc_reflection_stays_off(objects):
    for obj in pods(objects):
        assert pod_env(objects, obj).get("GRPC_REFLECTION", "false") == "false", obj["metadata"]["name"]


# ---------------------------------------------------------------------------------------------------
# Network policies


@dataclass(frozen=True)
class Endpoint:
    """One end of a flow: a pod (namespace and labels, its named ports) or an address outside the cluster."""

    name: str
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    ports: tuple[tuple[str, int, str], ...] = ()  # (name, number, protocol)
    ip: str | None = None

    @property
    def is_pod(self) -> bool:
        return self.ip is None


# Peers outside the namespace, as network-policies.yaml documents them.
INGRESS_CONTROLLER = Endpoint("ingress controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
PROMETHEUS = Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
NATS = Endpoint("nats", "nats", {"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats"},
                (("nats", 4222, "TCP"), ("cluster", 6222, "TCP"), ("monitor", 8222, "TCP")))
DNS = Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")))
STRANGER_POD = Endpoint("a pod of another namespace", "default", {"app": "stranger"})
STRANGER_HERE = Endpoint("another pod of this namespace", NAMESPACE, {"app": "stranger"})
INTERNET = Endpoint("an address on the internet", ip="203.0.113.9")
OTHER_PORTS = {(80, "TCP"), (443, "TCP"), (6222, "TCP"), (8222, "TCP"), (5432, "UDP"), (53, "TCP"), (53, "UDP")}


def pod_endpoint(obj: dict) -> Endpoint:
    ports = tuple((p["name"], p["containerPort"], p.get("protocol", "TCP")) for p in only_container(obj).get("ports", []))
    return Endpoint(obj["metadata"]["name"], NAMESPACE, pod_labels(obj), ports)


def matches(selector: dict, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) against labels; {} selects everything."""
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {"In": lambda: labels.get(key) in values, "NotIn": lambda: labels.get(key) not in values,
              "Exists": lambda: key in labels, "DoesNotExist": lambda: key not in labels}[operator]()
        if not ok:
            return False
    return True


def peer_matches(peer: dict, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.is_pod:
            return False  # address blocks are for addresses outside the cluster
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", []))
    if not other.is_pod:
        return False
    if "namespaceSelector" in peer:
        if not matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": other.namespace}):
            return False
    elif other.namespace != NAMESPACE:
        return False
    return matches(peer.get("podSelector", {}), other.labels)


def port_matches(rule_ports: list[dict] | None, port: int, protocol: str, destination: Endpoint) -> bool:
    if not rule_ports:
        return True
    for rule in rule_ports:
        if rule.get("protocol", "TCP") != protocol:
            continue
        if "port" not in rule:
            return True
        wanted = rule["port"]
        if isinstance(wanted, str):  # a named port of the destination pod
            if any(name == wanted and number == port and proto == protocol for name, number, proto in destination.ports):
                return True
        elif wanted <= port <= rule.get("endPort", wanted):
            return True
    return False


def policy_types(policy: dict) -> set[str]:
    spec = policy["spec"]
    return set(spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else [])))


def side_allows(policies: list[dict], pod: Endpoint, other: Endpoint, port: int, protocol: str,
                destination: Endpoint, direction: str) -> bool:
    """Whether the policies selecting `pod` let it talk to `other` (Egress) or hear from it (Ingress)."""
    rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    selecting = [p for p in policies if matches(p["spec"]["podSelector"], pod.labels) and direction in policy_types(p)]
    if not selecting:
        return True  # not isolated
    return any((not rule.get(peers_key) or any(peer_matches(peer, other) for peer in rule[peers_key]))
               and port_matches(rule.get("ports"), port, protocol, destination)
               for policy in selecting for rule in policy["spec"].get(rules_key, []))


def allowed(policies: list[dict], source: Endpoint, destination: Endpoint, port: int, protocol: str) -> bool:
    ours = lambda e: e.is_pod and e.namespace == NAMESPACE  # noqa: E731
    ok = True
    if ours(source):
        ok &= side_allows(policies, source, destination, port, protocol, destination, "Egress")
    if ours(destination):
        ok &= side_allows(policies, destination, source, port, protocol, destination, "Ingress")
    return ok


def postgres_network(objects: list[dict]) -> ipaddress.IPv4Network:
    """Where the databases are: the address block of the Postgres policy (an address in it stands for them)."""
    policy = find(objects, "NetworkPolicy", "autentikapp-postgres")
    (rule,) = policy["spec"]["egress"]
    (peer,) = rule["to"]
    return ipaddress.ip_network(peer["ipBlock"]["cidr"])


Flow = tuple[str, str, int, str]


def needed_flows(objects: list[dict], our_pods: dict[str, dict], endpoints: dict[str, Endpoint]) -> set[Flow]:
    """What the code needs, from the manifests: each pod's variables, the Services, the Ingress."""
    flows: set[Flow] = set()
    postgres = [e for e in endpoints.values() if not e.is_pod and ipaddress.ip_address(e.ip) in postgres_network(objects)]
    nats_url = urlsplit(find(objects, "ConfigMap", "autentikapp-bus")["data"]["NATS_URL"])
    assert nats_url.hostname.split(".")[:2] == ["nats", NATS.namespace], "NATS_URL names the chart's Service"
    for name, obj in our_pods.items():
        env = pod_env(objects, obj)
        flows |= {(name, DNS.name, 53, "UDP"), (name, DNS.name, 53, "TCP")}
        if "NATS_URL" in env:
            flows.add((name, NATS.name, nats_url.port, "TCP"))
        if any(variable.endswith("_DATABASE_URL") for variable in env):
            flows |= {(name, db.name, 5432, "TCP") for db in postgres}
        # Every address it dials through a Service: the gRPC servers (*_ADDR) and the gateway (GATEWAY_URL).
        targets = [env[variable].rpartition(":") for variable in env if variable.endswith("_ADDR")]
        if "GATEWAY_URL" in env:
            url = urlsplit(env["GATEWAY_URL"])
            targets.append((url.hostname, ":", str(url.port or 80)))
        for host, _, port in targets:
            service = find(objects, "Service", host.split(".")[0])
            assert service is not None, f"{name} dials {host}, which is no Service"
            target = next(p["targetPort"] for p in service["spec"]["ports"] if p["port"] == int(port))
            for server_name, server in our_pods.items():
                if matches({"matchLabels": service["spec"]["selector"]}, pod_labels(server)):
                    number = next(n for n_, n, _ in endpoints[server_name].ports if n_ == target)
                    flows.add((name, server_name, number, "TCP"))
    for ingress in of_kind(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = find(objects, "Service", backend["name"])
                target = next(p["targetPort"] for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"])
                number = next(n for n_, n, _ in endpoints[backend["name"]].ports if n_ == target)
                flows.add((INGRESS_CONTROLLER.name, backend["name"], number, "TCP"))
    for obj in of_kind(objects, "Deployment"):
        metrics = [n for n_, n, _ in endpoints[obj["metadata"]["name"]].ports if n_ == "metrics"]
        flows |= {(PROMETHEUS.name, obj["metadata"]["name"], port, "TCP") for port in metrics}
    return flows


def test_the_namespace_denies_everything_by_default(objects):
    deny = find(objects, "NetworkPolicy", "autentikapp-default-deny")
    assert deny["spec"]["podSelector"] == {} and policy_types(deny) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]


def test_the_network_policies_allow_exactly_the_flows_the_code_needs(objects):
    policies = of_kind(objects, "NetworkPolicy")
    our_pods = {obj["metadata"]["name"]: obj for obj in pods(objects)}
    endpoints = {name: pod_endpoint(obj) for name, obj in our_pods.items()}
    network = postgres_network(objects)
    postgres = Endpoint("postgres", ip=str(next(network.hosts()) if network.prefixlen < 32 else network.network_address))
    for extra in (INGRESS_CONTROLLER, PROMETHEUS, NATS, DNS, STRANGER_POD, STRANGER_HERE, INTERNET, postgres):
        endpoints[extra.name] = extra
    ports = {(number, protocol) for e in endpoints.values() for _, number, protocol in e.ports}
    ports |= OTHER_PORTS | {(5432, "TCP"), (4222, "TCP")}
    ours = lambda e: e.is_pod and e.namespace == NAMESPACE and e.name in our_pods  # noqa: E731
    granted = {(s.name, d.name, port, protocol)
               for s in endpoints.values() for d in endpoints.values() if ours(s) or ours(d)
               for port, protocol in ports if allowed(policies, s, d, port, protocol)}
    needed = needed_flows(objects, our_pods, endpoints)
    assert not needed - granted, f"blocked, though the code needs them: {sorted(needed - granted)}"
    assert not granted - needed, f"allowed, though nothing needs them: {sorted(granted - needed)}"


def test_production_narrows_postgres_to_the_database_servers():
    base, production = build(BASE), build(PRODUCTION)
    assert postgres_network(base).prefixlen == 0, "the base: any address, port 5432 only"
    assert postgres_network(production).prefixlen >= 16, "production: the database servers' block"


# ---------------------------------------------------------------------------------------------------
# NATS users


def nats_users() -> dict[str, dict]:
    users = NATS_VALUES["config"]["merge"]["authorization"]["users"]
    return {user["user"]: user for user in users}


def token_match(subject: str, pattern: str) -> bool:
    """NATS subject matching, also for a subscription's wildcards: is every subject `subject` can name
    also named by `pattern`? (`*` one token, `>` one or more trailing tokens.)"""
    tokens, wanted = subject.split("."), pattern.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or tokens[i] == ">":
            return False
        if token == "*":
            continue
        if token != tokens[i] or tokens[i] == "*":
            return False
    return len(tokens) == len(wanted)


def may(user: str, action: str, subject: str) -> bool:
    """Whether NATS lets `user` publish or subscribe (`action`) on `subject`: an allow names it, no deny does."""
    rules = nats_users()[user]["permissions"].get(action, {})
    allow, deny = rules.get("allow"), rules.get("deny", [])
    permitted = allow is None or any(token_match(subject, pattern) for pattern in allow)
    return permitted and not any(token_match(subject, pattern) or token_match(pattern, subject) for pattern in deny)


STREAMS = (bus.STREAM, bus.DEAD_LETTER_STREAM, bus.DOMAIN_STREAM)
API = "$JS.API"
# nats-py's request mux and a fetch's inbox, under the user's own prefix (common/bus.py inbox_prefix; the
# backup user is nats-box, which uses the default one).
def inboxes(user: str) -> tuple[str, str]:
    prefix = "_INBOX" if user == NATS_BOX_USER else bus.inbox_prefix(user)
    return f"{prefix}.kMjq5WXTgtzD3dPmCDXbcF.*", f"{prefix}.kMjq5WXTgtzD3dPmCDXbcF"
WORK = bus.subject_for("tenant1")
DEAD = bus.dead_letter_subject_for("tenant1")
DOMAIN = f"{bus.DOMAIN_PREFIX}.identifier.linked.tenant1"
ACK = f"$JS.ACK.{bus.STREAM}.{bus.CONSUMER}.1.42.40.1700000000000000000.3"
CONSUME = {f"{API}.CONSUMER.MSG.NEXT.{bus.STREAM}.{bus.CONSUMER}", f"{API}.CONSUMER.CREATE.{bus.STREAM}",
           f"{API}.CONSUMER.DURABLE.CREATE.{bus.STREAM}.other", f"{API}.CONSUMER.MSG.NEXT.{bus.STREAM}.other", ACK}
DESTROY = {f"{API}.{verb}.{stream}" for verb in ("STREAM.DELETE", "STREAM.PURGE") for stream in STREAMS}
CREATE = {f"{API}.STREAM.{verb}.{stream}" for verb in ("CREATE", "UPDATE") for stream in STREAMS}
# What each user's code does on the bus (common/bus.py, gateway/publisher.py, processor/runner.py,
# processor/handler.py, processor/dead_lettering.py, processor/domain_events.py, processor/dead_letter_admin.py).
NEEDS = {
    "gateway": {WORK, f"{API}.STREAM.INFO.{bus.STREAM}", f"{API}.STREAM.MSG.GET.{bus.STREAM}"},
    "processor": CREATE | {f"{API}.CONSUMER.DURABLE.CREATE.{bus.STREAM}.{bus.CONSUMER}",
                           f"{API}.CONSUMER.INFO.{bus.STREAM}.{bus.CONSUMER}",
                           f"{API}.CONSUMER.MSG.NEXT.{bus.STREAM}.{bus.CONSUMER}", ACK, DEAD, DOMAIN},
    "operator": {bus.subject_for("tenant1"), f"{API}.STREAM.INFO.{bus.DEAD_LETTER_STREAM}",
                 f"{API}.STREAM.MSG.GET.{bus.DEAD_LETTER_STREAM}", f"{API}.STREAM.MSG.DELETE.{bus.DEAD_LETTER_STREAM}"},
    # gateway_admin/service.py: the operator's dead-letter work, for one tenant per call (the dashboard).
    "gateway_admin": {bus.subject_for("tenant1"), f"{API}.STREAM.INFO.{bus.DEAD_LETTER_STREAM}",
                      f"{API}.STREAM.MSG.GET.{bus.DEAD_LETTER_STREAM}",
                      f"{API}.STREAM.MSG.DELETE.{bus.DEAD_LETTER_STREAM}"},
    NATS_BOX_USER: {f"{API}.STREAM.INFO.{bus.STREAM}", f"{API}.STREAM.SNAPSHOT.{bus.STREAM}",
                    f"{API}.STREAM.RESTORE.{bus.STREAM}", f"$JS.SNAPSHOT.ACK.{bus.STREAM}.x"},
}


def test_the_matcher_follows_nats_rules():
    assert token_match("webhooks.inbound.t1", "webhooks.inbound.>") and not token_match("webhooks.inbound", "webhooks.inbound.>")
    assert token_match("a.b.c", "a.*.c") and not token_match("a.b.c.d", "a.*.c")
    assert token_match("_INBOX.x.*", "_INBOX.>") and not token_match(">", "_INBOX.>")
    assert not token_match("webhooks.*", "webhooks.inbound.>") and not token_match("a.*", "a.b")


def test_there_is_one_nats_user_per_role_with_a_password_from_its_secret():
    users = nats_users()
    assert set(users) == set(NATS_USERS.values()) | {NATS_BOX_USER}
    authorization = NATS_VALUES["config"]["merge"]["authorization"]
    assert set(authorization) == {"users"}, "no token, no no_auth_user: every client is one of the users"
    server_env = NATS_VALUES["container"]["env"]
    for name, user in users.items():
        variable = f"NATS_PASSWORD_{name.upper()}"
        assert user["password"] == f"<< ${variable} >>", f"{name}: the password comes from the environment"
        assert server_env[variable] == {"valueFrom": {"secretKeyRef": {"name": nats_secret(name), "key": "password"}}}
        assert set(user["permissions"]) <= {"publish", "subscribe"}
        assert user["permissions"]["publish"].get("allow"), f"{name}: an allow list, not everything"
        assert user["permissions"]["subscribe"].get("allow"), f"{name}: an allow list, not everything"
    box = NATS_VALUES["natsBox"]["container"]["env"]
    assert box["NATS_USER"] == NATS_BOX_USER
    assert box["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": nats_secret(NATS_BOX_USER), "key": "password"}


def test_every_pod_logs_in_to_nats_as_its_role(objects):
    for obj in pods(objects):
        env = pod_env(objects, obj)
        name = role(obj)
        if "NATS_URL" not in env:
            assert "NATS_USER" not in env and "NATS_PASSWORD" not in env, obj["metadata"]["name"]
            continue
        assert env.get("NATS_USER") == NATS_USERS[name], obj["metadata"]["name"]
        assert "NATS_PASSWORD" in env and env["NATS_PASSWORD"] is None, "from the Secret, by reference"


@pytest.mark.parametrize("user", sorted(NEEDS))
def test_each_nats_user_may_do_what_its_code_does(user):
    refused = sorted(subject for subject in NEEDS[user] if not may(user, "publish", subject))
    assert not refused, f"{user} may not publish {refused}"
    for inbox in inboxes(user):
        assert may(user, "subscribe", inbox), f"{user} cannot hear JetStream's answers on {inbox}"
    for other in NEEDS:
        if other != user and NATS_BOX_USER not in (user, other):
            for inbox in inboxes(other):
                assert not may(user, "subscribe", inbox), f"{user} may hear {other}'s replies on {inbox}"


@pytest.mark.parametrize("user", sorted(NEEDS))
def test_no_nats_user_subscribes_to_anything_but_its_inbox(user):
    for subject in (WORK, DEAD, DOMAIN, "webhooks.>", ">", "$JS.>", "$JS.ACK.>", f"{API}.>"):
        assert not may(user, "subscribe", subject), f"{user} may subscribe to {subject}"


def test_the_gateway_cannot_consume_and_the_processor_cannot_publish_work():
    for subject in CONSUME | CREATE | DESTROY | {DEAD, DOMAIN, f"{API}.STREAM.MSG.DELETE.{bus.STREAM}",
                                                  f"{API}.STREAM.MSG.GET.{bus.DEAD_LETTER_STREAM}"}:
        assert not may("gateway", "publish", subject), f"the gateway may publish {subject}"
    # (It may read a dead letter back: it wrote them, and the oldest one's age feeds the retention alert.)
    for subject in (WORK, bus.subject_for("other"), f"{API}.STREAM.MSG.DELETE.{bus.DEAD_LETTER_STREAM}", *DESTROY,
                    f"{API}.CONSUMER.DURABLE.CREATE.{bus.STREAM}.other", f"{API}.CONSUMER.MSG.NEXT.{bus.STREAM}.other"):
        assert not may("processor", "publish", subject), f"the processor may publish {subject}"


def test_only_the_processor_creates_streams_and_nobody_destroys_them():
    for user in nats_users():
        for subject in DESTROY:
            assert not may(user, "publish", subject), f"{user} may publish {subject}"
        if user != "processor":
            for subject in CREATE:
                assert not may(user, "publish", subject), f"{user} may publish {subject}"


def test_the_operator_and_gateway_admin_replay_and_read_dead_letters_but_consume_nothing():
    assert dead_letter_admin.ALL_SUBJECTS == f"{bus.DEAD_LETTER_PREFIX}.>"
    for user in ("operator", "gateway_admin"):
        for subject in CONSUME | CREATE | {DEAD, DOMAIN, f"{API}.STREAM.MSG.DELETE.{bus.STREAM}"}:
            assert not may(user, "publish", subject), f"{user} may publish {subject}"
    for subject in (WORK, DEAD, DOMAIN, *CONSUME):
        assert not may(NATS_BOX_USER, "publish", subject), f"nats-box may publish {subject}"


# ---------------------------------------------------------------------------------------------------
# The operator's CLI pod


def test_the_operator_pod_has_what_the_cli_needs_and_only_that():
    objects = build(PRODUCTION) + build(OPERATOR)
    (pod,) = of_kind(objects, "Pod")
    env = pod_env(objects, pod)
    assert role(pod) == "cli"
    missing = REQUIRED_ENV["cli"] - set(env)
    assert not missing, f"the operator's pod lacks {sorted(missing)}"
    unknown = set(env) - env_read_by("cli")
    assert not unknown, f"the operator's pod sets variables the CLI never reads: {sorted(unknown)}"
    env = {name: SECRET_STAND_INS[name] if value is None else value for name, value in env.items()}
    settings_for("cli", {**env, **tls_stand_ins(env)})


def test_the_helm_values_grant_what_devstack_runs():
    """One definition of the users' permissions (common/nats_permissions.py): devstack's server runs it in
    `make run` and the tests (tests/security/test_nats_users.py), and production's must be the same."""
    from common import nats_permissions

    users = nats_users()
    for user, permissions in nats_permissions.PERMISSIONS.items():
        assert users[user]["permissions"] == permissions, user
