"""Argument types and options shared by command groups."""

from __future__ import annotations

import argparse
import os

from cli.errors import CliError

MAX_PAGE_SIZE = 1000  # the services' upper bound for page_size
DEFAULT_LIMIT = 100


def positive_float(text: str) -> float:
    """A number > 0 (seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def int_in_range(low: int, high: int | None = None):
    """An argparse type for an integer in [low, high]."""

    def parse(text: str) -> int:
        """Parse and bound-check one integer."""
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"{low}..{high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


def host_port(text: str) -> str:
    """host:port, checked the way common.config checks the *_SERVICE_ADDR variables."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected host:port, got {text!r}")
    return text


def add_tenant(parser: argparse.ArgumentParser) -> None:
    """--tenant ID, required by every tenant-scoped command."""
    parser.add_argument("--tenant", required=True, metavar="ID", help="the tenant (brand) id")


def add_paging(parser: argparse.ArgumentParser) -> None:
    """--limit and --page-size for list commands."""
    parser.add_argument(
        "--limit",
        type=int_in_range(0),
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N items (default {DEFAULT_LIMIT}; 0 = all)",
    )
    parser.add_argument(
        "--page-size",
        type=int_in_range(1, MAX_PAGE_SIZE),
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"items per request, 1..{MAX_PAGE_SIZE} (default {DEFAULT_LIMIT})",
    )


def refused_in_argv(what: str, instead: str) -> type[argparse.Action]:
    """An argparse action for an option that must never carry its value (`--secret VALUE`): argv shows up in
    `ps` and in shell history. The command stops (exit 2) before doing anything, saying to use `instead`."""

    class RefusedInArgv(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            parser.error(f"{option_string} is not accepted: a {what} on the command line shows up in `ps` and in "
                         f"shell history. Use {instead}.")

    return RefusedInArgv


def secret_from(file: str | None, env_name: str | None) -> str | None:
    """A secret from a file (trailing newline ignored) or an environment variable, never from argv (it
    would show up in `ps` and in shell history); None when neither is given or the variable is unset."""
    if file:
        try:
            with open(file, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            raise CliError(f"cannot read the secret file {file}: {exc.strerror or exc}") from None
        if not value:
            raise CliError(f"the secret file {file} is empty")
        return value
    if not env_name:
        return None
    return os.environ.get(env_name, "").strip() or None
