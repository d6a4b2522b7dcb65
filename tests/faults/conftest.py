"""Fault-injection fixtures: the whole system with a Postgres and a NATS of the test's own, so the test
may kill or restart either without touching other tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devstack.postgres import LocalPostgres
from devstack.stack import SERVICE_DATABASES
from system_support import System, start_system


@dataclass
class Rig:
    """The running system plus the servers under it."""

    sut: System
    postgres: LocalPostgres


@pytest.fixture
def rig(tmp_path, nats_server) -> Iterator[Rig]:
    """Own Postgres + own NATS + every process; yields handles to all of them."""
    with LocalPostgres(tmp_path / "postgres", durable=False) as postgres:
        urls = {variable: postgres.create_database(name) for variable, name in SERVICE_DATABASES.items()}
        # A crashed processor's messages come back after ack_wait: short here, so the test is quick.
        # The flood of one tenant is the point of these tests, not something to rate-limit.
        # Restarts under a loaded CI machine can take many seconds: the retry budget (max_deliver ×
        # delays) must outlast them, or a slow restart dead-letters events that should just wait.
        settings = {"BUS_ACK_WAIT_SECONDS": "5", "GATEWAY_RATE_LIMIT_PER_SECOND": "0",
                    "BUS_MAX_DELIVER": "200", "PROCESSOR_RETRY_DELAYS": "0.2,0.5,1,2"}
        with start_system(tmp_path / "logs", nats_server, urls, settings) as sut:
            yield Rig(sut, postgres)
