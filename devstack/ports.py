"""Free TCP ports on the loopback interface, so local servers never fight over fixed ports."""

from __future__ import annotations

import socket


def free_port() -> int:
    """Return a port that was free a moment ago on 127.0.0.1.

    The kernel picks it (bind to port 0); another process could still take it before we use it,
    which is acceptable for development and tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
