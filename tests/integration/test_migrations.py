"""Migrations build each process's schema from empty, re-running them changes nothing, and
`autentikapp migrate` applies every process's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from common import migrations
from customer_service.process import MIGRATIONS as CUSTOMER_MIGRATIONS
from gateway import encryption_keys
from identifier_service.process import MIGRATIONS as IDENTIFIER_MIGRATIONS


def schema(url: str) -> dict[str, set]:
    """Tables with their columns, and index names, of the public schema."""
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        ).fetchall()
        indexes = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'").fetchall()
    tables: dict[str, set] = {}
    for table, column in columns:
        tables.setdefault(table, set()).add(column)
    tables["<indexes>"] = {name for (name,) in indexes}
    return tables


@pytest.mark.parametrize(
    "folder,table,columns,indexes",
    [
        (CUSTOMER_MIGRATIONS, "customers",
         {"id", "tenant_id", "national_id", "email", "phone_number", "first_name", "last_name", "whatsapp_number",
          "created_at", "updated_at", "data_observed_at", "erased_at"},
         {"customers_pkey", "customers_tenant_national_id", "customers_tenant_email", "customers_tenant_phone",
          "customers_tenant_created"}),
        (IDENTIFIER_MIGRATIONS, "identifiers",
         {"tenant_id", "code", "customer_id", "assigned_at", "sold_at", "transaction_id", "product_sku",
          "product_name", "event_id", "registered_at"},
         {"identifiers_pkey", "identifiers_tenant_customer"}),
    ],
    ids=["customer_service", "identifier_service"],
)
def test_migrations_build_the_schema_and_rerun_is_a_noop(database_factory, folder, table, columns, indexes):
    url = database_factory("migrate")
    applied = migrations.apply(url, folder)
    assert [m.version for m in applied] == [m.version for m in migrations.discover(folder)]
    built = schema(url)
    assert built[table] == columns
    assert indexes <= built["<indexes>"]
    assert migrations.apply(url, folder) == []
    assert schema(url) == built


def test_concurrent_runners_apply_each_migration_once(database_factory):
    url = database_factory("migrate")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: migrations.apply(url, CUSTOMER_MIGRATIONS), range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, len(migrations.discover(CUSTOMER_MIGRATIONS))]


def test_an_edited_migration_is_refused(database_factory, tmp_path: Path):
    url = database_factory("migrate")
    (tmp_path / "001_first.sql").write_text("CREATE TABLE t (a int);")
    migrations.apply(url, tmp_path)
    (tmp_path / "001_first.sql").write_text("CREATE TABLE t (a bigint);")
    with pytest.raises(migrations.MigrationError, match="edited after it was applied"):
        migrations.apply(url, tmp_path)


def test_a_failing_migration_leaves_nothing_half_applied(database_factory, tmp_path: Path):
    url = database_factory("migrate")
    (tmp_path / "001_ok.sql").write_text("CREATE TABLE ok (a int);")
    (tmp_path / "002_broken.sql").write_text("CREATE TABLE half (a int); SELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        migrations.apply(url, tmp_path)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('half')").fetchone()[0] is None


def test_badly_named_files_are_refused(tmp_path: Path):
    (tmp_path / "1-init.sql").write_text("")
    with pytest.raises(migrations.MigrationError, match="NNN_lower_snake.sql"):
        migrations.discover(tmp_path)


def test_autentikapp_migrate_builds_every_process_schema_each_in_its_own_database(database_factory, tmp_path: Path):
    """The one command `make migrate` and the image's migrate role run: the real console script, with each
    process's database URL (and the gateway's encryption keys) from the environment, as in a deployment."""
    urls = {name: database_factory(name) for name in ("customers", "identifiers", "gateway", "processor", "dashboard")}
    env = {**os.environ, "CUSTOMER_SERVICE_DATABASE_URL": urls["customers"],
           "IDENTIFIER_SERVICE_DATABASE_URL": urls["identifiers"], "GATEWAY_DATABASE_URL": urls["gateway"],
           "PROCESSOR_DATABASE_URL": urls["processor"], "DASHBOARD_DATABASE_URL": urls["dashboard"],
           "GATEWAY_ENCRYPTION_KEYS": encryption_keys.new_entry("k1")}
    script = Path(sys.executable).with_name("autentikapp")

    def migrate() -> list[dict]:
        result = subprocess.run([str(script), "migrate", "--json"], env=env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    first = migrate()
    assert [row["process"] for row in first] == ["customer_service", "identifier_service", "processor", "gateway",
                                                  "dashboard"]
    assert all(row["applied"] for row in first)
    tables = {name: set(schema(url)) - {"<indexes>", "schema_migrations"} for name, url in urls.items()}
    assert tables == {"customers": {"customers", "erased_identities", "erasures", "customer_history"},
                      "identifiers": {"identifiers", "transaction_releases", "identifier_history"},
                      "gateway": {"tenants", "tenant_secrets", "tenant_unidentifying_values", "tenant_platforms",
                                  "refused_requests"},
                      "processor": {"event_outcomes"},
                      "dashboard": {"users", "sessions", "login_throttle", "audit_log", "oidc_logins"}}
    assert all(row["applied"] == [] for row in migrate()), "a second run has nothing to do"


def test_autentikapp_migrate_names_the_process_whose_database_it_cannot_reach(database_factory, tmp_path: Path):
    env = {**os.environ, "CUSTOMER_SERVICE_DATABASE_URL": database_factory("customers"),
           "IDENTIFIER_SERVICE_DATABASE_URL": database_factory("identifiers"),
           "GATEWAY_DATABASE_URL": database_factory("gateway"),
           "PROCESSOR_DATABASE_URL": "postgresql://nobody:s3cret@127.0.0.1:1/none",
           "GATEWAY_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "="}
    script = Path(sys.executable).with_name("autentikapp")
    result = subprocess.run([str(script), "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("autentikapp: processor: ") and "127.0.0.1:1" in result.stderr
    assert "s3cret" not in result.stderr and result.stderr.count("\n") == 1
