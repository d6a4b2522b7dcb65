"""GATEWAY_ENCRYPTION_KEYS for local development and tests: a random key kept beside the local data.

The gateway has no built-in key and refuses to start without GATEWAY_ENCRYPTION_KEYS. `make run` (and
anything else built on devstack.stack.Infrastructure) generates one the first time, with the key id
`dev-local` so nobody mistakes it for a real one, into `<base dir>/gateway-encryption-keys` (mode 0600;
`.run/` is git-ignored and `make clean` removes the key with the data it protects), and reuses it on
later runs, since the secrets in the local database are sealed under it. A value given in the
environment wins, as the URLs do.
"""

from __future__ import annotations

import os
from pathlib import Path

from common.config import ConfigError
from gateway import encryption_keys

DEV_KEY_ID = "dev-local"
FILE_NAME = "gateway-encryption-keys"
# The file's name before the setting was renamed; a checkout that still has it keeps its key (and so its data).
FORMER_FILE_NAME = "gateway-secrets-keys"


class DevKeyError(RuntimeError):
    """The kept key file is unusable; the message names the file (never its content)."""


def key_file(base_dir: Path) -> Path:
    """Where the development key of the session under `base_dir` is kept."""
    return Path(base_dir) / FILE_NAME


def ensure(base_dir: Path) -> str:
    """The kept setting under `base_dir`, generated (0600) the first time; checked like the gateway does."""
    path = key_file(base_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    former = Path(base_dir) / FORMER_FILE_NAME
    if former.exists() and not path.exists():
        former.rename(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text().strip()
    else:
        value = encryption_keys.new_entry(DEV_KEY_ID)
        with os.fdopen(fd, "w") as out:
            out.write(value + "\n")
    try:
        encryption_keys.parse(value, str(path))
    except ConfigError as exc:
        raise DevKeyError(f"{exc}; `make clean` removes it together with the local data sealed under it") from None
    return value
