"""Free TCP ports on the loopback interface, so local servers never fight over fixed ports."""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Where we pick from: below the kernel's ephemeral range (where it takes the local port of every outgoing
# connection), above the well-known and common service ports.
LOWEST = 10_000
_handed_out: set[int] = set()
_random = random.Random()


def _ephemeral_start() -> int:
    """The first port the kernel uses for outgoing connections (32768 by default on Linux)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a port that was free a moment ago on 127.0.0.1, never the same twice in this process.

    It is picked below the kernel's ephemeral range: a port taken from that range (bind to port 0) can be
    given by the kernel to an outgoing connection (a client of Postgres, NATS, gRPC) before the server it
    was meant for binds it, which happens when a test starts several processes one after another. Another
    program could still bind it first; that is rare enough for development and tests.
    """
    top = _ephemeral_start()
    if top - LOWEST >= 1_000:
        for _ in range(200):
            port = _random.randrange(LOWEST, top)
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # no room below the range: the kernel's pick
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _handed_out.add(port)
    return port
