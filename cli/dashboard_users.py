"""``autentikapp dashboard users``: a tenant's dashboard users, from the operator's side.

- ``create TENANT EMAIL --role admin|viewer``: add a user (a brand's first admin, typically; after that its
  admins add their people on the dashboard's Usuarios page);
- ``list TENANT``: the tenant's users, disabled ones included;
- ``disable TENANT USER_ID``: disable a user; their sessions end at once (users are never deleted, so the
  audit log keeps naming them).

Uses dashboard.users.UserStore on DASHBOARD_DATABASE_URL (else DATABASE_URL), applying the dashboard's
migrations first, so the first admin can be created before the dashboard has ever started. Every change is
in the tenant's audit log, as ``cli:<the operating system user>``.

The password never comes from the command line (it would show up in `ps` and in shell history):
``--password-file FILE``, else the variable ``--password-env NAME`` names (default
$AUTENTIKAPP_DASHBOARD_PASSWORD), else, when stdin is a terminal, a prompt that does not echo. ``--password
VALUE`` is refused (exit 2). Nothing prints the password or its hash.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg

from cli.args import int_in_range, refused_in_argv
from cli.errors import EXIT_NOT_FOUND, CliError
from cli.output import Output
from cli.rpc import Context
from common import migrations
from common.config import database_url, redact_url
from common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from dashboard import db
from dashboard.audit import Actor
from dashboard.passwords import MIN_LENGTH, Passwords
from dashboard.settings import LoginLimits
from dashboard.users import ROLES, User, UserStore

DATABASE_VAR = "DASHBOARD_DATABASE_URL"
PASSWORD_ENV = "AUTENTIKAPP_DASHBOARD_PASSWORD"
USER_COLUMNS = ("id", "email", "role", "active", "created_at", "disabled_at")


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``dashboard`` group and its ``users`` commands."""
    group = subparsers.add_parser(
        "dashboard", help="manage the dashboard's users",
        description=f"Manage the dashboard's users. Uses {DATABASE_VAR} (else DATABASE_URL).",
    )
    areas = group.add_subparsers(dest="area", required=True, metavar="AREA")
    users = areas.add_parser(
        "users", help="create, list and disable a tenant's dashboard users",
        description="Create, list and disable a tenant's dashboard users (roles: admin, viewer). Every change "
        "is in the tenant's audit log.",
    )
    commands = users.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser(
        "create", parents=[common], help="add a user",
        description=f"Add a user to the tenant and print them (never the password). The password ({MIN_LENGTH} "
        f"characters at least) comes from --password-file FILE, else from ${PASSWORD_ENV} (or the variable "
        "--password-env names), else from a prompt when stdin is a terminal; never from the command line.",
    )
    create.add_argument("tenant_id", metavar="TENANT")
    create.add_argument("email", metavar="EMAIL")
    create.add_argument("--role", required=True, choices=ROLES,
                        help="admin (manages secrets, users, replays) or viewer (reads)")
    password = create.add_mutually_exclusive_group()
    password.add_argument("--password-env", metavar="NAME",
                          help=f"the environment variable holding the password (default {PASSWORD_ENV})")
    password.add_argument("--password-file", metavar="FILE",
                          help="a file holding the password (one trailing newline ignored)")
    password.add_argument("--password", help=argparse.SUPPRESS, action=refused_in_argv(
        "password", f"${PASSWORD_ENV} (or --password-env NAME), --password-file FILE, or run the command in a "
        "terminal to be asked for it"))
    create.set_defaults(run=run_create)

    list_ = commands.add_parser("list", parents=[common], help="list a tenant's users",
                                description="List the tenant's users, disabled ones included, oldest first.")
    list_.add_argument("tenant_id", metavar="TENANT")
    list_.set_defaults(run=run_list)

    disable = commands.add_parser(
        "disable", parents=[common], help="disable a user (their sessions end at once)",
        description="Disable one of the tenant's users: they cannot sign in any more and their sessions end at "
        "once. Safe to repeat. (`dashboard users list` shows the ids.)",
    )
    disable.add_argument("tenant_id", metavar="TENANT")
    disable.add_argument("user_id", type=int_in_range(1, 2**63 - 1), metavar="USER_ID")
    disable.set_defaults(run=run_disable)


@contextlib.contextmanager
def open_store(timeout: float) -> Iterator[UserStore]:
    """The users store on the dashboard database (migrated first); failures become one-line CliErrors."""
    url = database_url(DATABASE_VAR)
    try:
        migrations.apply(url, db.MIGRATIONS)
        pool = db.open_pool(url, min_size=1, max_size=1, timeout=timeout)
    except migrations.MigrationError as exc:
        raise CliError(f"dashboard database {redact_url(url)}: {exc}") from None
    except (psycopg.Error, Unavailable) as exc:
        raise CliError(f"cannot use the dashboard database at {redact_url(url)} ({type(exc).__name__}); "
                       f"set {DATABASE_VAR} (or DATABASE_URL)") from None
    try:
        yield UserStore(pool, Passwords(), LoginLimits())
    except NotFound as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None
    except (AlreadyExists, InvalidArgument, FailedPrecondition, Unavailable) as exc:
        raise CliError(str(exc)) from None
    finally:
        pool.close()


def operator() -> Actor:
    """Who the audit log says made the change: this machine's user, as the CLI's."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no $USER and no passwd entry (some containers)
        name = "unknown"
    return Actor.cli(name)


def read_password(args: argparse.Namespace) -> str:
    """The new user's password: --password-file, else the variable (--password-env or the default), else a
    prompt (twice) when stdin is a terminal."""
    if args.password_file:
        try:
            with open(args.password_file, encoding="utf-8", newline="") as handle:
                value = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise CliError(f"cannot read the password file {args.password_file}: {reason}") from None
        value = value.removesuffix("\n").removesuffix("\r")  # what an editor or `echo` adds, nothing else
        if not value:
            raise CliError(f"the password file {args.password_file} is empty")
        return value
    name = args.password_env or PASSWORD_ENV
    value = os.environ.get(name, "")
    if value:
        return value
    if args.password_env:
        raise CliError(f"no password: ${args.password_env} is unset or empty")
    if sys.stdin is not None and sys.stdin.isatty():
        return prompt_password(args.email)
    raise CliError(f"no password: set ${PASSWORD_ENV}, give --password-env NAME or --password-file FILE, or run "
                   "the command in a terminal to be asked for it")


def prompt_password(email: str) -> str:
    """Ask twice without echo; the two must match."""
    try:
        first = getpass.getpass(f"Password for {email.strip()}: ")
        second = getpass.getpass("The same password again: ")
    except EOFError:
        raise CliError("no password given") from None
    if first != second:
        raise CliError("the two passwords differ; nothing was created")
    if not first:
        raise CliError("no password given")
    return first


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def user_record(user: User) -> dict[str, Any]:
    """A user as printed: never the password, nor its hash (a User carries neither)."""
    return {"id": user.id, "tenant_id": user.tenant_id, "email": user.email, "role": user.role,
            "active": user.active, "created_at": _time(user.created_at), "disabled_at": _time(user.disabled_at)}


def _show(out: Output, user: User) -> None:
    """One user: a JSON object, or aligned lines (`-` for a date not set)."""
    out.record(user_record(user), table_key="", columns=())


def run_create(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Create the user and print them."""
    password = read_password(args)
    with open_store(ctx.timeout) as store:
        user = store.create_user(args.tenant_id, args.email, password, args.role, operator())
    _show(out, user)
    out.note(f"{user.email} can sign in to the dashboard with customer ID {user.tenant_id}; hand the password "
             "over through a safe channel.")


def run_list(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print the tenant's users."""
    with open_store(ctx.timeout) as store:
        users = store.list_users(args.tenant_id)
    out.records([user_record(u) for u in users], USER_COLUMNS, noun="users")


def run_disable(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Disable the user (NOT_FOUND exits 3, another tenant's user included) and print them."""
    with open_store(ctx.timeout) as store:
        user = store.disable_user(args.tenant_id, args.user_id, operator())
    _show(out, user)
    out.note(f"{user.email} cannot sign in any more; their sessions have ended.")
