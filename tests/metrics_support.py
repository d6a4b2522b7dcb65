"""Reading this process's Prometheus registry in tests: how much some samples grew during a test
(the registry is global and other tests count into it too, so tests compare before and after)."""

from __future__ import annotations

from prometheus_client import REGISTRY


class Counts:
    """How much some samples of the default registry grew since this object was made."""

    def __init__(self, *keys: tuple[str, dict[str, str]]) -> None:
        """`keys`: (sample name, labels) pairs, e.g. ("autentikapp_processor_messages_total", {"result": "retry"})."""
        self.keys = keys
        self.before = [self.read(name, labels) for name, labels in keys]

    @staticmethod
    def read(name: str, labels: dict[str, str]) -> float:
        """A sample's current value; 0 for a series nothing has counted into yet."""
        return REGISTRY.get_sample_value(name, labels) or 0.0

    def grown(self) -> list[float]:
        """Each sample's growth, in the order of `keys`."""
        return [self.read(name, labels) - before for (name, labels), before in zip(self.keys, self.before)]
