"""The stack `make run` started, found from inside the checkout: ``autentikapp`` needs no ``source .run/env``.

`make run` (devstack) writes ``.run/env`` at the checkout's root once everything is up: ``export NAME=value``
lines, values shell-quoted, for NATS_URL, PUBLIC_BASE_URL, GATEWAY_ENCRYPTION_KEYS, every service's
*_DATABASE_URL and *_ADDR. When ``autentikapp`` runs from that checkout (the current directory or any
directory below it) it completes its environment from that file, before any setting is read:

- Where: walk up from the current directory to the nearest directory holding a ``pyproject.toml``. If
  that file names this project (``autentikapp-webhooks``) and the directory holds ``.run/env``, that is
  the file. Anything else (no pyproject.toml up to the root, another project's, an unreadable one, no
  ``.run/env``) means nothing is read and the CLI behaves exactly as it does outside a checkout.
- Precedence: command-line options, then the environment, then ``.run/env``, then the built-in defaults.
  A variable from the file is used only when the environment does not set it: set means non-empty, the
  rule every reader in common.config applies. It is also skipped when the environment sets a variable
  the code would read in its place: DATABASE_URL (the fallback of every *_DATABASE_URL) and
  GATEWAY_SECRETS_KEYS (the former name of GATEWAY_ENCRYPTION_KEYS); otherwise the file would override a
  choice the environment made.
- Parsing: the file is never executed. Each line is split with shlex (POSIX quoting, ``#`` comments);
  blank and comment lines are skipped; every other line must be exactly ``export NAME=value`` or
  ``NAME=value`` with NAME a valid variable name. One line that is not refuses the whole file (a partly
  applied configuration could point some commands at one system and others at another): a one-line
  warning names the file and the line number, never its content, and nothing from it is used.
- Secrecy: nothing here prints a value (the file holds the encryption key and database passwords).
- Staleness: devstack removes ``.run/env`` when `make run` stops (Ctrl-C, SIGTERM, or a process dying),
  so the file exists while the stack runs. Only a `make run` killed outright (SIGKILL, a crash, a
  reboot) leaves it behind; then the commands fail as they do today against an address where nothing
  listens, and a gRPC command's message says the address came from ``.run/env`` and asks whether
  `make run` is still running. The next `make run` rewrites the file.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_NAME = "autentikapp-webhooks"
ENV_FILE = Path(".run", "env")  # relative to the checkout's root; devstack writes it there

# Variables the code reads in place of another when that other is unset: the environment setting one of
# these keeps the file's value of the other out.
_READ_INSTEAD = {"GATEWAY_ENCRYPTION_KEYS": ("GATEWAY_SECRETS_KEYS",)}
_DATABASE_URL_FALLBACK = "DATABASE_URL"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class EnvFileError(Exception):
    """``.run/env`` cannot be used; the message names the file and the line, never a value."""


@dataclass(frozen=True)
class LocalStack:
    """The ``.run/env`` used, and the names taken from it (those the environment did not set)."""

    path: Path
    applied: frozenset[str]

    def supplied(self, name: str) -> bool:
        """True when ``name``'s value came from the file."""
        return name in self.applied


def find_env_file(start: Path) -> Path | None:
    """``.run/env`` of the checkout of this project that ``start`` is in, or None (see the module doc)."""
    for directory in (start, *start.parents):
        pyproject = directory / "pyproject.toml"
        if not pyproject.is_file():
            continue
        if _project_name(pyproject) != PROJECT_NAME:
            return None  # inside another project: its .run/env, if any, is not ours
        env_file = directory / ENV_FILE
        return env_file if env_file.is_file() else None
    return None


def _project_name(pyproject: Path) -> str | None:
    try:
        with pyproject.open("rb") as f:
            name = tomllib.load(f).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def parse(text: str, path: Path) -> dict[str, str]:
    """The variables of an env file; EnvFileError (file and line number, no content) on any bad line."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True, posix=True)
        except ValueError:  # unbalanced quotes
            raise EnvFileError(f"{path}: line {number} is not `export NAME=value`") from None
        if not words:
            continue
        if words[0] == "export":
            words = words[1:]
        name, sep, value = words[0].partition("=") if len(words) == 1 else ("", "", "")
        if not sep or not _NAME.match(name):
            raise EnvFileError(f"{path}: line {number} is not `export NAME=value`")
        variables[name] = value
    return variables


def _set(env: MutableMapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip())


def _kept_out(env: MutableMapping[str, str], name: str) -> bool:
    """True when the environment already decides ``name``: it sets it, or a variable read in its place."""
    if _set(env, name) or any(_set(env, other) for other in _READ_INSTEAD.get(name, ())):
        return True
    return name.endswith("_" + _DATABASE_URL_FALLBACK) and _set(env, _DATABASE_URL_FALLBACK)


def apply(env: MutableMapping[str, str], warn: Callable[[str], None], cwd: Path | None = None) -> LocalStack | None:
    """Complete ``env`` (``os.environ`` at start-up) from the ``.run/env`` of the checkout that ``cwd``
    (default: the current directory) is in.

    Returns what was used, or None when no file applies (then ``env`` is untouched). A file that cannot
    be read or parsed is reported through ``warn`` (one line, no values) and ignored."""
    try:
        path = find_env_file(cwd or Path.cwd())
    except OSError:  # the current directory was removed
        return None
    if path is None:
        return None
    try:
        variables = parse(path.read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError) as exc:
        warn(f"ignoring {path}: cannot read it ({type(exc).__name__})")
        return None
    except EnvFileError as exc:
        warn(f"ignoring {exc}; `make run` writes it again")
        return None
    applied = {name: value for name, value in variables.items() if not _kept_out(env, name)}
    env.update(applied)
    return LocalStack(path, frozenset(applied))
