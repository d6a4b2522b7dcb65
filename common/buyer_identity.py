"""Which buyer values identify nobody: pure rules, no I/O.

Point-of-sale and e-invoicing systems must put *some* identification on every sale. When the buyer
gives none, they put a fixed generic value there (Colombia's DIAN prescribes 222222222222 for
"consumidor final"), or the cashier types a filler ("0000000", "noemail@x.com", "+57 333 333 3333").
Matching customers on such a value makes one customer "own" every product sold anonymously, so the
processor must treat these values as absent. This module says which ones they are; it never decides
what to do with the rest of the sale.

Every value given here is already normalised by `common.normalize` (national ids upper-case letters and
digits, e-mails lower-case, phone numbers E.164). The reasons, in the order they are checked:

1. ``tenant_list``: the value is in the tenant's own list of values that identify nobody (a brand's
   POS may use its own filler, such as its store's phone number). Checked first, for every field.
2. national_id
   - ``generic_national_id``: a built-in per-country anonymous-buyer id (`GENERIC_NATIONAL_IDS`).
     Checked for every country, because the buyer's country is not known reliably.
   - ``degenerate_value``: one character repeated, any length ("0", "1111111", "XXXXXXXX"; so all
     zeros too), or the whole value is a run of consecutive digits, ascending or descending, of at
     least `MIN_ID_RUN` digits ("123456", "1234567890", "987654321"). A real id that happens to be
     such a run is astronomically unlikely; a cashier typing one is common.
3. email: ``placeholder_email`` when
   - the domain is reserved for documentation or testing and can never deliver (RFC 2606 and RFC
     6761): example.com, example.net, example.org and their subdomains, and the top-level domains
     .example, .invalid, .test and .localhost;
   - the local part (what precedes "@", without a "+tag", with ".", "_" and "-" ignored) is a word
     of `_ABSENCE_WORDS` (it says "no e-mail", "none", "final consumer" in Spanish, Portuguese or
     English) or of `_FILLER_WORDS` (the field's own name or a test word: "correo", "email",
     "prueba"). Trailing digits are ignored for words of four letters or more ("noemail2",
     "prueba1"), never for shorter ones ("na85" may be someone's initials);
   - the local part is one character repeated ("aa@", "xxxx@", "x.x.x@"; a single letter may be a
     person's initial, and "a@a.com" is caught by the next rule);
   - the local part equals the domain's first label ("correo@correo.com", "a@a.com");
   - the domain's first label is an absence word ("juan@noemail.com", "x@sincorreo.co").
   The word lists hold only words that no person uses as a personal mailbox name, so they cannot
   flag "maria.gomez@gmail.com". Role words such as "ventas" or "cliente" are deliberately absent:
   a shop's or a buyer's role address can be real, and "cliente@email.com" is the integration
   guide's own example. Field-name words only count in the local part ("email.com" is a real
   domain); absence words also count as the domain's first label.
4. phone_number and whatsapp_number: ``placeholder_phone`` when the national significant number
   (the country code split off with `phonenumbers`) is one digit repeated (so all zeros too) or a
   run of consecutive digits of at least `MIN_PHONE_RUN` digits (+570000000000, +573333333333,
   +571234567890), or a real prefix followed by at least `MIN_PHONE_FILL` of one digit
   (+573000000000, +56910000000: a mobile prefix, then a filler).

`screen` applies all of this to a buyer's values at once and says what it dropped and why.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from common import normalize

NATIONAL_ID, EMAIL, PHONE_NUMBER, WHATSAPP_NUMBER = "national_id", "email", "phone_number", "whatsapp_number"
SCREENED_FIELDS = (NATIONAL_ID, EMAIL, PHONE_NUMBER, WHATSAPP_NUMBER)

# Reasons, as reported in an event's outcome.
GENERIC_NATIONAL_ID = "generic_national_id"  # a built-in per-country anonymous-buyer id
DEGENERATE_VALUE = "degenerate_value"  # one character repeated, an obvious digit run, all zeros
PLACEHOLDER_EMAIL = "placeholder_email"
PLACEHOLDER_PHONE = "placeholder_phone"
TENANT_LIST = "tenant_list"  # the tenant's own list of values that identify nobody

MIN_ID_RUN = 6  # "123456" is a filler; shorter runs are too likely inside short real ids
MIN_PHONE_RUN = 7  # shorter national numbers than this barely exist, so a 7-digit run is a filler
MIN_PHONE_FILL = 7  # a prefix then 7 of one digit: "+57 300 000 0000" (a real number ending so is a rare vanity one)


@dataclass(frozen=True)
class GenericId:
    """A generic id a tax authority (or, where marked, common POS practice) uses for an anonymous buyer."""

    country: str  # ISO 3166-1 alpha-2
    value: str  # normalised, as common.normalize.national_id returns it
    meaning: str
    source: str


# The table docs/buyer-identity.md publishes, with the same sources. Values are normalised:
# "66.666.666-6" is stored as "666666666".
GENERIC_NATIONAL_IDS: tuple[GenericId, ...] = (
    GenericId("CO", "222222222222", "consumidor final (buyer gives no identification)",
              "DIAN, Resolución 000042 de 2020, artículo 11, numeral 3, literal c"),
    GenericId("EC", "9999999999999", "venta a consumidor final (identification type 07)",
              "SRI, Ficha Técnica de Comprobantes Electrónicos, table of buyer identification types; "
              "the 13-nines value is confirmed only by integrators' documentation and code"),
    GenericId("MX", "XAXX010101000", "RFC genérico, público en general (domestic buyer without RFC)",
              "Código Fiscal de la Federación, artículo 29-A fracción IV; Resolución Miscelánea Fiscal, "
              "regla 2.7.1.26 (as quoted by secondary sources)"),
    GenericId("MX", "XEXX010101000", "RFC genérico, residente en el extranjero (foreign buyer without RFC)",
              "Código Fiscal de la Federación, artículo 29-A fracción IV; Resolución Miscelánea Fiscal, "
              "regla 2.7.1.26 (as quoted by secondary sources)"),
    GenericId("CL", "666666666", "RUT genérico 66.666.666-6, boleta to an unidentified buyer",
              "SII, Formato Boleta Electrónica (RUTRecep), as cited by e-invoicing libraries"),
    GenericId("CL", "555555555", "RUT genérico 55.555.555-5, foreign receiver of an export document",
              "commonly used by POS and e-invoicing systems; no official source found"),
    GenericId("CL", "444444460", "RUT 44.444.446-0, foreign receiver of a boleta de honorarios",
              "SII, Preguntas frecuentes 001.120.3748.009 (boletas de honorarios a extranjeros)"),
    GenericId("PE", "00000000", "DNI for \"clientes varios\" on a boleta de venta",
              "commonly used by POS systems; no official source found"),
    GenericId("PE", "99999999", "DNI for \"clientes varios\" on a boleta de venta",
              "commonly used by POS systems; no official source found"),
    GenericId("AR", "0", "DocNro 0 with DocTipo 99 (consumidor final)",
              "AFIP/ARCA electronic invoicing web service (WSFEv1), as documented by its client libraries"),
)
_GENERIC_IDS = frozenset(g.value for g in GENERIC_NATIONAL_IDS)


@dataclass(frozen=True)
class TenantList:
    """Normalised values a tenant declared as "identifies nobody" (its POS's own fillers)."""

    national_ids: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    phone_numbers: frozenset[str] = frozenset()  # also applies to whatsapp_number

    @classmethod
    def of(cls, national_ids: Iterable[str] = (), emails: Iterable[str] = (),
           phone_numbers: Iterable[str] = ()) -> TenantList:
        """Build a list from values as typed, normalised like the buyer's (so they compare equal).

        Raises common.errors.InvalidArgument for a value that is not a valid id, address or number.
        """
        def each(values: Iterable[str], fn) -> frozenset[str]:
            return frozenset(v for v in (fn(raw) for raw in values) if v)

        return cls(each(national_ids, normalize.national_id), each(emails, normalize.email),
                   each(phone_numbers, normalize.phone))

    def holds(self, field: str, value: str) -> bool:
        """True when the tenant declared this normalised value of this field as identifying nobody."""
        if field == NATIONAL_ID:
            return value in self.national_ids
        if field == EMAIL:
            return value in self.emails
        if field in (PHONE_NUMBER, WHATSAPP_NUMBER):
            return value in self.phone_numbers
        return False


@dataclass(frozen=True)
class Ignored:
    """A buyer value that was dropped, and why (one of the reasons above)."""

    field: str
    reason: str


_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also accepts "²", which int() refuses


def _one_character(text: str) -> bool:
    """"0", "0000", "XXXX": a single character, repeated any number of times."""
    return len(set(text)) == 1


def _digit_run(text: str, min_length: int) -> bool:
    """The whole text is consecutive digits, up or down ("1234567890", "987654321"), wrapping 9<->0."""
    if len(text) < min_length or not _DIGITS.fullmatch(text):
        return False
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(text)}
    return steps == {1} or steps == {9}


def _degenerate_national_id(value: str) -> bool:
    return _one_character(value) or _digit_run(value, MIN_ID_RUN)


# Local parts (and, for _ABSENCE_WORDS, domains' first labels) that say "there is no address".
# Compared with ".", "_" and "-" removed: "sin.correo", "no_tiene" and "no-email" are listed once.
_ABSENCE_WORDS = frozenset({
    # Spanish
    "noemail", "nomail", "nocorreo", "sinemail", "sinmail", "sincorreo", "sincorreos",
    "notiene", "notienecorreo", "notieneemail", "notengo", "notengocorreo", "ninguno", "ninguna",
    "noaplica", "sindato", "sindatos", "nodisponible", "desconocido", "anonimo", "anonima",
    "consumidorfinal", "clientefinal", "publicogeneral", "publicoengeneral", "clientesvarios",
    "clientevarios",
    # Portuguese
    "sememail", "semmail", "semcorreio", "naotem", "naotememail", "naopossui", "naopossuiemail",
    "nenhum", "nenhuma",
    # English, and abbreviations shared by the three languages
    "none", "null", "nil", "na", "nn", "noreply", "donotreply", "unknown", "anonymous", "nobody",
})
# Words that are not an address but the field's own name, or a test: only flagged as a local part.
_FILLER_WORDS = frozenset({
    "email", "mail", "correo", "correoelectronico", "correio", "test", "testing", "teste",
    "prueba", "pruebas", "asdf", "qwerty",
})
_PLACEHOLDER_LOCAL_WORDS = _ABSENCE_WORDS | _FILLER_WORDS
_MIN_WORD_FOR_DIGITS = 4  # "noemail2" is a filler, "na85" may be initials
_LOCAL_SEPARATORS = re.compile(r"[._\-]")
_TRAILING_DIGITS = re.compile(r"[0-9]+$")
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")  # RFC 2606 second-level names
_RESERVED_TLDS = frozenset({"example", "invalid", "test", "localhost"})  # RFC 2606 and RFC 6761


def _squash(text: str) -> str:
    return _LOCAL_SEPARATORS.sub("", text)


def _is_word(squashed: str, words: frozenset[str]) -> bool:
    if squashed in words:
        return True
    stem = _TRAILING_DIGITS.sub("", squashed)
    return stem != squashed and len(stem) >= _MIN_WORD_FOR_DIGITS and stem in words


def _placeholder_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return False
    domain = domain.rstrip(".")
    labels = domain.split(".")
    if labels[-1] in _RESERVED_TLDS or any(domain == d or domain.endswith("." + d) for d in _RESERVED_DOMAINS):
        return True
    word = _squash(local.split("+", 1)[0])
    if not word:
        return True  # "+tag@..." or "...@": nothing names a mailbox
    first_label = labels[0].replace("-", "")
    return ((len(word) > 1 and _one_character(word)) or _is_word(word, _PLACEHOLDER_LOCAL_WORDS)
            or word == first_label or _is_word(first_label, _ABSENCE_WORDS))


def _placeholder_phone(value: str) -> bool:
    number = normalize.national_number(value)
    return bool(number) and (_one_character(number) or _digit_run(number, MIN_PHONE_RUN)
                             or (len(number) > MIN_PHONE_FILL and _one_character(number[-MIN_PHONE_FILL:])))


def reason_unusable(field: str, value: str, tenant: TenantList | None = None) -> str | None:
    """Why this NORMALISED value identifies nobody (one of the reasons), or None when it may identify a person.

    An empty value is absent, not unusable (None); so is any field other than the screened four.
    """
    if not value or field not in SCREENED_FIELDS:
        return None
    if tenant is not None and tenant.holds(field, value):
        return TENANT_LIST
    if field == NATIONAL_ID:
        if value in _GENERIC_IDS:
            return GENERIC_NATIONAL_ID
        return DEGENERATE_VALUE if _degenerate_national_id(value) else None
    if field == EMAIL:
        return PLACEHOLDER_EMAIL if _placeholder_email(value) else None
    return PLACEHOLDER_PHONE if _placeholder_phone(value) else None


def screen(values: Mapping[str, str], tenant: TenantList | None = None) -> tuple[dict[str, str], list[Ignored]]:
    """The values with the unusable ones replaced by "" (absent), and what was dropped (field, reason), in field order.

    Only national_id, email, phone_number and whatsapp_number are screened; other keys pass unchanged;
    "" stays "". Field order is national_id, email, phone_number, whatsapp_number, whatever the
    mapping's own order, so an outcome lists its drops the same way every time.
    """
    kept = dict(values)
    ignored: list[Ignored] = []
    for field in SCREENED_FIELDS:
        if field not in kept:
            continue
        reason = reason_unusable(field, kept[field], tenant)
        if reason is not None:
            kept[field] = ""
            ignored.append(Ignored(field, reason))
    return kept, ignored
