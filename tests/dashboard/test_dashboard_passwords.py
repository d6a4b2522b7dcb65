"""Argon2id hashing, verification, re-hashing at sign-in, and the password policy."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from dashboard_support import FAST_ARGON2

from common.errors import InvalidArgument
from dashboard.passwords import PRODUCTION_PARAMETERS, Passwords, check_policy


def test_production_hashes_are_argon2id_with_rfc_9106_low_memory_parameters():
    stored = Passwords().hash("a long enough password")
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$v=19$")
    assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 64 * 1024, 4)
    assert params == PRODUCTION_PARAMETERS


def test_verify_accepts_the_password_and_nothing_else(passwords):
    stored = passwords.hash("a long enough password")
    assert passwords.verify(stored, "a long enough password")
    assert not passwords.verify(stored, "a long enough passwore")
    assert not passwords.verify(stored, "")


def test_each_hash_has_its_own_salt(passwords):
    assert passwords.hash("same password here") != passwords.hash("same password here")


def test_no_account_or_a_broken_hash_is_false_not_an_error(passwords):
    assert passwords.verify(None, "anything at all") is False
    assert passwords.verify("not a hash", "anything at all") is False


def test_hashes_made_with_other_parameters_need_rehashing():
    cheap, production = Passwords(FAST_ARGON2), Passwords()
    assert production.needs_rehash(cheap.hash("a long enough password"))
    assert not production.needs_rehash(production.hash("a long enough password"))
    assert production.needs_rehash("garbage")


@pytest.mark.parametrize("password, says", [
    ("short", "at least 12"),
    ("x" * 1025, "at most 1024"),
    ("ana@acme.example", "must not be the e-mail"),
    ("ANA@ACME.EXAMPLE", "must not be the e-mail"),
    ("ana.rodriguez1", "must not be the e-mail"),
])
def test_policy_refuses_short_huge_and_e_mail_passwords(password, says):
    email = "ana.rodriguez1@acme.example" if password == "ana.rodriguez1" else "ana@acme.example"
    with pytest.raises(InvalidArgument, match=says) as refused:
        check_policy(password, email)
    assert refused.value.field == "password" and password not in str(refused.value)


def test_policy_accepts_twelve_characters():
    assert check_policy("twelve chars", "ana@acme.example") == "twelve chars"
