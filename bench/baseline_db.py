"""The drain baseline: the same sales applied straight to Postgres with psycopg, one connection, one
transaction per sale (upsert the customer by e-mail, then link each free code), in a database of its
own on the same server as the system's. What a plain script achieves on this machine and this disk."""

from __future__ import annotations

import json
import time

import psycopg

from bench.workload import Sale

SCHEMA = """
DROP TABLE IF EXISTS identifiers;
DROP TABLE IF EXISTS customers;
CREATE TABLE customers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    national_id text, email text NOT NULL UNIQUE, phone_number text,
    first_name text, last_name text, updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE identifiers (
    code text PRIMARY KEY, customer_id uuid REFERENCES customers (id), assigned_at timestamptz,
    transaction_id text
);
"""

UPSERT = """
INSERT INTO customers (national_id, email, phone_number, first_name, last_name)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (email) DO UPDATE SET national_id = EXCLUDED.national_id, phone_number = EXCLUDED.phone_number,
    first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, updated_at = now()
RETURNING id
"""
ASSIGN = ("UPDATE identifiers SET customer_id = %s, assigned_at = now(), transaction_id = %s "
          "WHERE code = %s AND customer_id IS NULL")


def prepare(url: str, batch: list[Sale]) -> None:
    """Fresh tables with every code of `batch` registered (free)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        with conn.cursor().copy("COPY identifiers (code) FROM STDIN") as copy:
            for sale in batch:
                for code in sale.codes:
                    copy.write_row((code,))
        conn.execute("ANALYZE")


def apply_all(url: str, batch: list[Sale]) -> dict:
    """Apply every sale, one transaction each; the rate in events per second."""
    rows = []
    for sale in batch:
        doc = json.loads(sale.body)
        c = doc["customer_data"]
        rows.append(((c["national_id"], c["email"].lower(), c["phone_number"], c["first_name"], c["last_name"]),
                     doc["transaction_data"]["transaction_id"], sale.codes))
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for customer, transaction_id, codes in rows:
            with conn.transaction():
                customer_id = conn.execute(UPSERT, customer).fetchone()[0]
                for code in codes:
                    conn.execute(ASSIGN, (customer_id, transaction_id, code))
        seconds = time.perf_counter() - started
        linked = conn.execute("SELECT count(*) FROM identifiers WHERE customer_id IS NOT NULL").fetchone()[0]
    return {"events": len(batch), "seconds": round(seconds, 3), "events_per_s": round(len(batch) / seconds, 1),
            "codes_linked": linked}
