"""Migrations build each service's schema from empty, and re-running them changes nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from common import migrations
from customer_service.server import MIGRATIONS as CUSTOMER_MIGRATIONS
from identifier_service.server import MIGRATIONS as IDENTIFIER_MIGRATIONS


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
          "created_at", "updated_at", "data_observed_at"},
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
