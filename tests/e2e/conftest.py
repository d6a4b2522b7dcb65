"""End-to-end fixtures: the whole system as real processes over real sockets.

gunicorn (gateway) + NATS + processor + both gRPC services + Postgres, started exactly as `make run`
starts them (devstack.system), on free ports, with databases of this test's own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.stack import SERVICE_DATABASES
from system_support import System, own_system, start_system


@pytest.fixture
def system_env() -> dict[str, str]:
    """Extra environment for every process of `running_system` (and its CLI); override this fixture in a
    test module to tune the system, e.g. {"BUS_MAX_DELIVER": "3"}."""
    return {}


@pytest.fixture
def running_system(tmp_path, nats_server, database_factory, system_env) -> Iterator[System]:
    """The whole system, started like `make run` does, on free ports and fresh databases."""
    urls = {variable: database_factory(name) for variable, name in SERVICE_DATABASES.items()}
    with start_system(tmp_path / "logs", nats_server, urls, system_env) as sut:
        yield sut


def _module_system(request, tmp_path_factory, postgres, *, with_dashboard: bool) -> Iterator[System]:
    """A system of the module's own (own_system), shared by its tests; the module's `SYSTEM_ENV` lays extra
    environment over the defaults."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with own_system(root, postgres, getattr(request.module, "SYSTEM_ENV", {}), with_dashboard=with_dashboard) as sut:
        yield sut


@pytest.fixture(scope="module")
def shared_system(request, tmp_path_factory, postgres) -> Iterator[System]:
    """The sale path's processes (as `running_system`), shared by the tests of one module: for tests that
    each use tenants of their own and stop nothing (starting a system takes seconds)."""
    yield from _module_system(request, tmp_path_factory, postgres, with_dashboard=False)


@pytest.fixture(scope="module")
def brand_system(request, tmp_path_factory, postgres) -> Iterator[System]:
    """The whole system with the brands' side too (gateway_admin, dashboard), as `make run` starts it, shared
    by the tests of one module (each uses tenants of its own)."""
    yield from _module_system(request, tmp_path_factory, postgres, with_dashboard=True)
