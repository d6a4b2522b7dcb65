"""Security tests: the whole system as real processes, one per test module.

Each module gets its own NATS, its own databases and its own set of processes (gateway under gunicorn,
processor, both services), started exactly as `make run` starts them, so nothing leaks between
modules; within a module the tests share the system (starting one takes a few seconds). A module
may lay extra environment variables over the defaults with a module-level `SYSTEM_ENV` dict.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.nats import LocalNats
from devstack.stack import SERVICE_DATABASES
from system_support import System, start_system


@pytest.fixture(scope="module")
def module_system(request, tmp_path_factory, postgres) -> Iterator[System]:
    """Every process of the system on free ports, with a NATS and databases of this module's own."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    urls: dict[str, str] = {}
    try:
        with LocalNats(root / "nats", users=True) as nats_server:
            for variable, name in SERVICE_DATABASES.items():
                urls[variable] = postgres.create_database(name)
            with start_system(root / "logs", nats_server, urls, getattr(request.module, "SYSTEM_ENV", {})) as sut:
                yield sut
    finally:
        for url in urls.values():
            postgres.drop_database(url)
