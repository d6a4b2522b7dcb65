"""Exit codes and the one error type commands raise for an expected failure."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # an RPC or operational failure (service down, bad file, bad configuration)
EXIT_USAGE = 2  # argparse's own code for a malformed command line
EXIT_NOT_FOUND = 3  # the thing asked for does not exist, so scripts can test existence


class CliError(Exception):
    """An expected failure: ``main`` prints ``autentikapp: <message>`` and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        """Keep the message on one line: it is the whole of what the operator sees."""
        super().__init__(" ".join(message.split()))
        self.exit_code = exit_code
