"""Security tests: the whole system as real processes, one per test module.

Each module gets its own NATS, its own databases and its own set of processes (gateway under gunicorn,
processor, both services), started exactly as `make run` starts them, so nothing leaks between
modules; within a module the tests share the system (starting one takes a few seconds). A module
may lay extra environment variables over the defaults with a module-level `SYSTEM_ENV` dict.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from system_support import System, own_system


@pytest.fixture(scope="module")
def module_system(request, tmp_path_factory, postgres) -> Iterator[System]:
    """Every process of the system on free ports, with a NATS and databases of this module's own."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with own_system(root, postgres, getattr(request.module, "SYSTEM_ENV", {})) as sut:
        yield sut
