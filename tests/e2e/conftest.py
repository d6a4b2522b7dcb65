"""End-to-end fixtures: the whole system as real processes over real sockets.

gunicorn (gateway) + NATS + processor + both gRPC services + Postgres, started exactly as `make run`
starts them (devstack.system), on free ports, with databases of this test's own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack import system
from devstack.ports import free_port
from devstack.processes import ProcessGroup
from e2e_support import TEST_SETTINGS, System


@pytest.fixture
def running_system(tmp_path, nats_server, database_factory) -> Iterator[System]:
    """The whole system, started like `make run` does, on free ports and fresh databases."""
    ports = {s.name: (free_port() if s.port_var else None) for s in system.PROCESSES}
    infra_env = {
        "NATS_URL": nats_server.url,
        "CUSTOMER_SERVICE_DATABASE_URL": database_factory("customers"),
        "IDENTIFIER_SERVICE_DATABASE_URL": database_factory("identifiers"),
        "GATEWAY_DATABASE_URL": database_factory("gateway"),
        "PROCESSOR_DATABASE_URL": database_factory("processor"),
    }
    env = {**system.child_environment(infra_env, ports), **TEST_SETTINGS}
    group = ProcessGroup(tmp_path / "logs", grace=10)
    sut = System(group, env, ports, nats_server)
    try:
        for spec in system.PROCESSES:
            sut.start(spec.name)
        yield sut
    finally:
        for channel in sut.channels.values():
            channel.close()
        group.stop_all()
