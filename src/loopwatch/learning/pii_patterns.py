"""What personal data looks like in a logged string: e-mail addresses, phone numbers, card numbers.

Two stages, so that the store is never pulled into Python:

* :data:`PREFILTER` holds one broad regular expression per kind, written in the
  syntax both RE2 (DuckDB, Spark) and PostgreSQL accept; the engine counts the rows
  of a sample that match it and returns a bounded number of them.
* :func:`find` confirms a candidate in Python: an address of the usual form for
  e-mail, a number that Google's libphonenumber (the ``phonenumbers`` package) finds
  valid for phones, and for cards 13–19 digits with an issuer's prefix that pass
  the Luhn check (ISO/IEC 7812-1, Annex B).

Examples are shown masked (:func:`mask`), so a report never repeats what it found.

Examples
--------
>>> find("contact: jane.doe@example.com")
[('email', 'jane.doe@example.com')]
>>> find("card 4111 1111 1111 1111 on file")
[('card', '4111 1111 1111 1111')]
>>> find("card 4111 1111 1111 1112 on file")  # fails the Luhn check
[]
>>> [kind for kind, _ in find("call +44 20 7946 0958 today")]
['phone']
>>> mask("email", "jane.doe@example.com"), mask("card", "4111 1111 1111 1111")
('j*******@e******.com', '************1111')
"""

from __future__ import annotations

import re
from typing import Literal, get_args

import phonenumbers

__all__ = ["KINDS", "PREFILTER", "PiiKind", "find", "luhn_valid", "mask"]

PiiKind = Literal["email", "phone", "card"]
KINDS: tuple[PiiKind, ...] = get_args(PiiKind)

#: Broad patterns the engine filters with (a superset of what :func:`find` confirms).
PREFILTER: dict[PiiKind, str] = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+",
    # seven or more digits, possibly split by spaces, dots, dashes or brackets
    "phone": r"[0-9][0-9 ().-]{5,}[0-9]",
    "card": r"[0-9]([ -]?[0-9]){12,18}",
}

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
                    r"[A-Za-z]{2,63}(?![\w-])")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
# issuer prefixes and the lengths their numbers have (ISO/IEC 7812 IIN ranges of the card schemes)
_ISSUERS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("4", "4", (13, 16, 19)),                # Visa
    ("51", "55", (16,)), ("2221", "2720", (16,)),  # Mastercard
    ("34", "34", (15,)), ("37", "37", (15,)),      # American Express
    ("6011", "6011", (16, 19)), ("644", "649", (16, 19)), ("65", "65", (16, 19)),  # Discover
    ("3528", "3589", (16, 19)),              # JCB
    ("300", "305", (14,)), ("36", "36", (14,)), ("38", "39", (14, 16)),  # Diners Club
    ("62", "62", (16, 19)),                  # UnionPay
)


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (ISO/IEC 7812-1).

    >>> luhn_valid("79927398713"), luhn_valid("79927398710")
    (True, False)
    """
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _issued(digits: str) -> bool:
    for low, high, lengths in _ISSUERS:
        prefix = digits[:len(low)]
        if low <= prefix <= high and len(digits) in lengths:
            return True
    return False


def _cards(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if len(set(digits)) > 1 and _issued(digits) and luhn_valid(digits):
            spans.append(match.span())
    return spans


def find(text: str, *, region: str = "US") -> list[tuple[PiiKind, str]]:
    """Each piece of personal data in ``text``: its kind and the matched text, in order.

    ``region`` is where a phone number written without a ``+`` country code is read
    as dialled from (a CLDR region code such as ``US`` or ``GB``).
    """
    found: list[tuple[int, PiiKind, str]] = []
    taken: list[tuple[int, int]] = []
    for span in _cards(text):
        found.append((span[0], "card", text[span[0]:span[1]]))
        taken.append(span)
    for match in _EMAIL.finditer(text):
        found.append((match.start(), "email", match.group()))
        taken.append(match.span())
    if re.search(PREFILTER["phone"], text):
        for number in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            if not any(a < number.end and number.start < b for a, b in taken):
                found.append((number.start, "phone", number.raw_string))
    return [(kind, value) for _, kind, value in sorted(found)]


def mask(kind: PiiKind, value: str) -> str:
    """``value`` with all but a hint hidden: an address's first letters and top-level domain,
    a number's last four digits."""
    if kind == "email":
        local, _, domain = value.partition("@")
        name, _, tld = domain.rpartition(".")
        return f"{local[:1]}{'*' * (len(local) - 1)}@{name[:1]}{'*' * (len(name) - 1)}.{tld}"
    digits = re.sub(r"\D", "", value)
    return "*" * (len(digits) - 4) + digits[-4:]
