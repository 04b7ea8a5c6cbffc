"""NPI and DEA check digits: what the gatekeeper tells a clinician who mistypes one."""

from __future__ import annotations

import random

import pytest

from bots.gatekeeper.registry.dea import dea_check_digit, validate_dea
from bots.gatekeeper.registry.npi import make_npi, npi_check_digit, validate_npi


def _luhn_valid(digits: str) -> bool:
    """Textbook Luhn over the whole string: an independent oracle for the NPI code."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


@pytest.mark.parametrize(
    "npi",
    ["1234567893", "1003000126", " 1234567893 ", make_npi("199999999"), make_npi("200000000")],
)
def test_valid_npis_pass(npi: str) -> None:
    check = validate_npi(npi)
    assert check.ok, check.reason
    assert check.npi == npi.strip()


@pytest.mark.parametrize(
    ("npi", "fragment"),
    [
        ("1234567890", "last digit should be 3"),
        ("1234567839", "check digit"),  # two digits swapped
        ("123456789", "exactly 10 digits"),
        ("12345678931", "exactly 10 digits"),
        ("12345678X3", "digits only"),
        ("", "No NPI given"),
        ("3234567893", "starts with 1 or 2"),
    ],
)
def test_invalid_npis_say_why(npi: str, fragment: str) -> None:
    check = validate_npi(npi)
    assert not check.ok
    assert fragment in check.reason


def test_check_digit_agrees_with_luhn_over_80840_prefix() -> None:
    rng = random.Random(7)
    for _ in range(2_000):
        body = str(rng.randrange(100_000_000, 300_000_000))
        npi = make_npi(body)
        assert _luhn_valid("80840" + npi)
        wrong = npi[:9] + str((npi_check_digit(body) + 1) % 10)
        assert not validate_npi(wrong).ok


@pytest.mark.parametrize(
    "dea",
    [
        "AB1234563",  # 1+3+5=9, 2*(2+4+6)=24, sum 33 -> 3
        "BJ6125341",  # 6+2+3=11, 2*(1+5+4)=20, sum 31 -> 1
        "FA9999991",  # 27 + 54 = 81 -> 1
        "M91234563",  # business registrant: 9 as the second character
        "xs0000000",  # lower case and all zeros are accepted (sum 0)
    ],
)
def test_valid_dea_numbers_pass(dea: str) -> None:
    check = validate_dea(dea)
    assert check.ok, check.reason


@pytest.mark.parametrize(
    ("dea", "fragment"),
    [
        ("AB1234567", "last digit should be 3"),
        ("FA9999999", "last digit should be 1"),
        ("QB1234563", "not a DEA registrant type"),
        ("A11234563", "second character"),
        ("AB12345X3", "last seven characters"),
        ("AB123456", "9 characters"),
    ],
)
def test_invalid_dea_numbers_say_why(dea: str, fragment: str) -> None:
    check = validate_dea(dea)
    assert not check.ok
    assert fragment in check.reason


def test_dea_check_digit_rejects_wrong_length() -> None:
    with pytest.raises(ValueError):
        dea_check_digit("12345")
