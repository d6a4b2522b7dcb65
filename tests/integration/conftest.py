"""Fixtures the processor's integration tests share: its database, and its environment pointing at the
test's NATS and the real services (a module that needs another environment defines its own `env`)."""

from __future__ import annotations

import pytest

from processor.outcomes import MIGRATIONS
from processor_support import processor_env


@pytest.fixture
def processor_db(database_factory) -> str:
    """A fresh database with the processor's tables."""
    return database_factory("processor", MIGRATIONS)


@pytest.fixture
def env(nats_server, customer_service, identifier_service, processor_db) -> dict[str, str]:
    """An in-process processor's environment: this test's NATS, services and database."""
    return processor_env(nats_server.url, f"127.0.0.1:{customer_service.port}",
                         f"127.0.0.1:{identifier_service.port}", processor_db)
