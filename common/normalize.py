"""Normalisation and validation of a buyer's contact fields.

One place for these rules, used by the gateway (422 on bad input) and by customer_service (which
must not trust its callers). Matching customers depends on every writer normalising the same way.

The two expensive rules (e-mail: email-validator, ~45 µs; phone: phonenumbers, ~25 µs) are pure
functions of their input, and the same buyer's values come back sale after sale (and a WhatsApp
number is often the phone number): their results are kept in a bounded LRU cache per process
(CACHE_ENTRIES each). Only accepted values are cached (a refusal is computed again, with its field's
name in the message); the cache holds what the process read anyway, and no more than CACHE_ENTRIES.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from common.errors import InvalidArgument
from common.limits import MAX_EMAIL, MAX_NAME, MAX_NATIONAL_ID, MAX_PHONE_INPUT

_NATIONAL_ID_SEPARATORS = re.compile(r"[\s.\-/]+")
_NATIONAL_ID_ALLOWED = re.compile(r"^[A-Z0-9]+$")
_PHONE_DECORATION = re.compile(r"[\s.\-()/]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_PHONE_DIGITS = re.compile(r"\+?[0-9]+")
# Entries of each normalisation cache (e-mail; phone): about 150 bytes each, so ~1 MB per cache.
CACHE_ENTRIES = 4096


class _Refused(ValueError):
    """A cached rule's refusal; the public function turns it into InvalidArgument naming its field."""


def _text(value: str | None) -> str:
    """Strip surrounding whitespace; None becomes empty (absent)."""
    return (value or "").strip()


def _reject_control_chars(value: str, field: str) -> None:
    """Refuse C0 control characters and DEL (they break logs and terminals); one regex scan, in C."""
    if _CONTROL_CHARS.search(value):
        raise InvalidArgument(f"{field} must not contain control characters", field)


def national_id(value: str | None, field: str = "national_id") -> str:
    """Upper-case letters and digits only: '1.234.567-k' and '1234567K' are the same person."""
    raw = _text(value)
    if not raw:
        return ""
    if len(raw) > MAX_NATIONAL_ID * 2:
        raise InvalidArgument(f"{field} is too long (max {MAX_NATIONAL_ID} characters)", field)
    cleaned = _NATIONAL_ID_SEPARATORS.sub("", raw).upper()
    if not cleaned or not _NATIONAL_ID_ALLOWED.match(cleaned):
        raise InvalidArgument(f"{field} may only contain letters, digits, spaces, dots, dashes and slashes", field)
    if len(cleaned) > MAX_NATIONAL_ID:
        raise InvalidArgument(f"{field} is too long (max {MAX_NATIONAL_ID} characters)", field)
    return cleaned


def email(value: str | None, field: str = "email") -> str:
    """A syntactically valid address, lower-cased whole (senders' systems disagree on case)."""
    raw = _text(value)
    if not raw:
        return ""
    if len(raw) > MAX_EMAIL:
        raise InvalidArgument(f"{field} is too long (max {MAX_EMAIL} characters)", field)
    try:
        return _email(raw)
    except _Refused as exc:
        raise InvalidArgument(f"{field} is not a valid e-mail address: {exc}", field) from None


@functools.lru_cache(maxsize=CACHE_ENTRIES)
def _email(raw: str) -> str:
    """email()'s check of a trimmed address under the length cap (cached: see the module's docstring)."""
    try:
        checked = validate_email(raw, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise _Refused(str(exc)) from None
    return checked.normalized.lower()


def phone(value: str | None, field: str = "phone_number", default_region: str | None = None) -> str:
    """E.164 ('+' and digits). Without a leading '+' (or '00') the number is read as a national number
    of `default_region` (the tenant's default country), and refused when there is none."""
    raw = _text(value)
    if not raw:
        return ""
    if len(raw) > MAX_PHONE_INPUT:
        raise InvalidArgument(f"{field} is too long (max {MAX_PHONE_INPUT} characters)", field)
    compact = _PHONE_DECORATION.sub("", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _PHONE_DIGITS.fullmatch(compact):
        raise InvalidArgument(f"{field} must be a phone number in E.164 form, like +573001234567", field)
    region = None if compact.startswith("+") else default_region
    try:
        return _phone(compact, region)[0]
    except _Refused as exc:
        if str(exc) == "unparsable":
            raise InvalidArgument(
                f"{field} must be in international form with a country code, like +573001234567 (or set the "
                "tenant's default country)", field
            ) from None
        raise InvalidArgument(f"{field} is not a possible phone number for its country code", field) from None


@functools.lru_cache(maxsize=CACHE_ENTRIES)
def _phone(compact: str, region: str | None) -> tuple[str, str]:
    """phone()'s reading of '+'/digits `compact` (national ones in `region`): its E.164 form and its
    national significant number (national_number's answer for that E.164 value); refusals are
    _Refused("unparsable") or _Refused("impossible") (cached: see the module's docstring)."""
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        raise _Refused("unparsable") from None
    if not phonenumbers.is_possible_number(parsed):
        raise _Refused("impossible")
    return (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
            phonenumbers.national_significant_number(parsed))


def national_number(value: str) -> str:
    """The national significant number of a phone value ("+573001234567" -> "3001234567"); its digits when
    it does not parse. A normalised (E.164) value is its own key in phone()'s cache, so a value this
    process just normalised is not parsed again (customer_service screens every phone it normalised)."""
    if _PHONE_DIGITS.fullmatch(value) and value.startswith("+"):
        try:
            return _phone(value, None)[1]
        except _Refused:
            pass  # parsed, or parsed but not a possible number: read below as before
    try:
        return phonenumbers.national_significant_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", value)


def country(value: str | None, field: str = "default_country") -> str:
    """An ISO 3166-1 alpha-2 country whose phone numbers phonenumbers knows ("co" -> "CO"); "" for none."""
    raw = _text(value).upper()
    if not raw:
        return ""
    if raw not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidArgument(f"{field} must be an ISO 3166-1 alpha-2 country code, like CO or MX", field)
    return raw


def text(value: str | None, field: str, max_length: int) -> str:
    """Free text (a name, a SKU, a product name): trimmed, inner whitespace collapsed, length-capped."""
    raw = " ".join(_text(value).split())
    if len(raw) > max_length:
        raise InvalidArgument(f"{field} is too long (max {max_length} characters)", field)
    _reject_control_chars(raw, field)
    return raw


def name(value: str | None, field: str) -> str:
    """A person's name."""
    return text(value, field, MAX_NAME)
