"""Personal data in a string: planted e-mails, phones and card numbers are found, look-alikes are not."""

from __future__ import annotations

import re

import pytest

from loopwatch.learning.pii_patterns import PREFILTER, find, luhn_valid, mask

# published test card numbers of the schemes (they pass Luhn and carry an issuer prefix)
CARDS = ["4111111111111111", "4012 8888 8888 1881", "5555-5555-5555-4444", "378282246310005",
         "6011111111111117", "3530111333300000", "2223003122003222"]


@pytest.mark.parametrize("card", CARDS)
def test_a_card_number_is_found_with_or_without_separators(card: str) -> None:
    assert find(f"note: paid with {card} yesterday") == [("card", card)]
    assert re.search(PREFILTER["card"], card)


@pytest.mark.parametrize("text", [
    "4111111111111112",            # fails Luhn
    "0000000000000000",            # passes Luhn, but one digit repeated and no issuer
    "1234567890123452",            # passes Luhn, but no issuer starts with 1
    "order 9000000000000000001",   # a 19-digit id with no issuer prefix
    "41111111111111111111",        # 20 digits: no card
])
def test_a_number_that_is_no_card_is_not_reported(text: str) -> None:
    assert "card" not in [k for k, _ in find(text)]


def test_luhn_agrees_with_the_standard_example() -> None:
    # ISO/IEC 7812-1 Annex B's worked example: 7992739871 has check digit 3
    assert luhn_valid("79927398713")
    assert [d for d in range(10) if luhn_valid(f"7992739871{d}")] == [3]


@pytest.mark.parametrize("text,expected", [
    ("jane.doe@example.com", "jane.doe@example.com"),
    ("reply to <ops+fraud@mail.example.co.uk>.", "ops+fraud@mail.example.co.uk"),
    ("user=J_Smith99@corp-mail.io;", "J_Smith99@corp-mail.io"),
])
def test_an_email_address_is_found_inside_text(text: str, expected: str) -> None:
    assert find(text) == [("email", expected)]


@pytest.mark.parametrize("text", ["fraud-hgb-3.2.0", "a@b", "@handle", "me@localhost", "x@1.2.3.4"])
def test_what_only_resembles_an_address_is_not_reported(text: str) -> None:
    assert find(text) == []


@pytest.mark.parametrize("text,region", [
    ("+1 (415) 555-2671", "US"), ("415-555-2671", "US"), ("+44 20 7946 0958", "US"),
    ("020 7946 0958", "GB"), ("+49 30 901820", "US"),
])
def test_a_phone_number_is_found_in_the_region_it_is_dialled_from(text: str, region: str) -> None:
    assert [k for k, _ in find(f"call {text} please", region=region)] == ["phone"]


@pytest.mark.parametrize("text", [
    "dec-7-000000123", "2026-03-01 10:00:00", "2026-03-01T10:00:00Z", "0.000264", "12345.67",
    "genre_05", "churn-logit-1.4.0", "v1.2.3-rc.4", "99", "7-000000001",
])
def test_ids_times_and_numbers_are_not_phones(text: str) -> None:
    assert find(text) == []


def test_several_kinds_in_one_string_come_in_order() -> None:
    text = "a@example.org then 4111111111111111 then +1 415 555 2671"
    assert [k for k, _ in find(text)] == ["email", "card", "phone"]


def test_masks_keep_only_a_hint() -> None:
    assert mask("email", "jane.doe@example.com") == "j*******@e******.com"
    assert mask("card", "4111-1111-1111-1111") == "************1111"
    assert mask("phone", "+1 (415) 555-2671") == "*******2671"
