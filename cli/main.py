"""Entry point of ``autentikapp``: parser, dispatch, error handling and exit codes.

Exit codes: 0 ok, 1 an RPC or operational failure, 2 a usage error (argparse), 3 NOT_FOUND.
Every expected failure is one line on stderr, ``autentikapp: <reason>``, never a traceback.

Run from inside a checkout where `make run` is up, the CLI finds that stack by itself: cli.local_stack
completes the environment from the checkout's ``.run/env`` (variables already set win).

A command group is a module with ``add_commands(subparsers, common)`` whose leaf commands set
``run(args, ctx, out)``; adding a group means writing that module and listing it in COMMAND_GROUPS.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cli import certs, customers, dashboard_users, dlq, events, identifiers, local_stack, migrate, tenants, webhook
from cli.args import host_port, positive_float
from cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from cli.output import Output
from cli.rpc import ENDPOINTS, Context
from common.config import ConfigError

PROG = "autentikapp"
DEFAULT_TIMEOUT = 10.0
EXIT_INTERRUPTED = 130

COMMAND_GROUPS = (customers, identifiers, events, dlq, tenants, dashboard_users, webhook, migrate, certs)


def _common_options(*, top_level: bool) -> argparse.ArgumentParser:
    """Options accepted both before the group and after the command (``--json`` anywhere).

    The top-level copy carries the real defaults; the copy each command inherits defaults to SUPPRESS,
    so a command that does not repeat an option keeps the value given (or defaulted) at the top level.
    Two separate copies are needed because argparse parents share their action objects.
    """
    defaults = {"json": False, "timeout": DEFAULT_TIMEOUT, **{e.dest: None for e in ENDPOINTS}}

    def default(dest: str) -> object:
        """The real default at the top level, SUPPRESS below it."""
        return defaults[dest] if top_level else argparse.SUPPRESS

    common = argparse.ArgumentParser(add_help=False)
    options = common.add_argument_group("global options")
    options.add_argument(
        "--json", action="store_true", default=default("json"), help="print one JSON document instead of text"
    )
    options.add_argument(
        "--timeout",
        type=positive_float,
        default=default("timeout"),
        metavar="SECONDS",
        help=f"deadline of each call (default {DEFAULT_TIMEOUT:g})",
    )
    for endpoint in ENDPOINTS:
        options.add_argument(
            endpoint.option,
            type=host_port,
            default=default(endpoint.dest),
            metavar="ADDR",
            help=f"{endpoint.name} host:port "
            f"(default ${endpoint.env_var}, else localhost:{endpoint.default_port})",
        )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[_common_options(top_level=True)],
        description="Operate Autentikapp: tenants and their webhook secrets, customers, product identifiers; "
        "send a signed test webhook.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage error, 3 not found.",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    common = _common_options(top_level=False)
    for module in COMMAND_GROUPS:
        module.add_commands(groups, common)
    return parser


def _fail(reason: str) -> None:
    """The one stderr line of a failed run."""
    print(f"{PROG}: {reason}", file=sys.stderr)


def _warn(message: str) -> None:
    """A line on stderr that does not stop the command."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit code (the console script passes it to sys.exit).

    With ``argv`` None (the console script: this process's own command line), the environment is first
    completed from the local stack's ``.run/env`` when the current directory is in a checkout
    (cli.local_stack). A caller that passes ``argv`` (tests, other Python code) runs the command with the
    environment exactly as it is, wherever its current directory happens to be.
    """
    own_command_line = argv is None
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2); argparse has printed the message
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
    stack = local_stack.apply(os.environ, _warn) if own_command_line else None
    ctx = Context(args, stack)
    try:
        return args.run(args, ctx, Output(args.json)) or EXIT_OK
    except CliError as exc:
        _fail(str(exc))
        return exc.exit_code
    except ConfigError as exc:
        _fail(" ".join(str(exc).split()))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _fail("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `autentikapp identifiers list ... | head`
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # silence the flush at exit
        except (OSError, ValueError):
            pass
        return EXIT_FAILURE
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
