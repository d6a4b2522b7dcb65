"""Example payloads shipped with the CLI (package data): `autentikapp webhook send --example` and the tests."""

from pathlib import Path

TRANSACTION_CREATED = Path(__file__).with_name("transaction_created.json")
