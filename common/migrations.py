"""A small versioned-SQL migration runner.

Each service keeps plain files `NNN_name.sql` in its own `migrations/` folder. They are applied in
order, each in its own transaction, and recorded in `schema_migrations` with a checksum, so an edited
migration that already ran is refused instead of silently diverging. A transaction-level advisory lock
lets several replicas start at once: one applies, the others wait and then find nothing to do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

_FILENAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x617574656E74  # "autent": one lock id per database is enough, each service owns its database


@dataclass(frozen=True)
class Migration:
    """One SQL file: version, name, text and its checksum."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """A migration file is malformed, or one that ran has been edited since."""


def discover(folder: Path) -> list[Migration]:
    """Read the folder's migration files in version order; refuse gaps in naming or duplicate versions."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_lower_snake.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


def apply(url: str, folder: Path) -> list[Migration]:
    """Apply pending migrations in `folder` to the database at `url`; return those applied now."""
    migrations = discover(folder)
    applied_now: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text NOT NULL,
                       checksum   text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {
                row[0]: row[1] for row in conn.execute("SELECT version, checksum FROM schema_migrations")
            }
            for migration in migrations:
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version:03d}_{migration.name} was edited after it was applied; "
                            "add a new migration instead"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration)
    return applied_now
