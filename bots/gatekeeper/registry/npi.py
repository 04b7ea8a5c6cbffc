"""National Provider Identifier (NPI) check digits.

An NPI is ten digits whose last digit is a Luhn check digit computed over the
nine identifier digits *prefixed with 80840* (the ISO 7812 issuer prefix for
US health applications, per the CMS NPI check-digit specification). Without
the prefix the Luhn sum is off by a constant 24, which is why a plain Luhn
validator accepts the wrong numbers.

The bot quotes :attr:`NpiCheck.reason` back to the clinician, so every failure
says what is wrong in words a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

NPI_LENGTH = 10
#: Luhn contribution of the constant "80840" prefix (8+0+8+4+0 with doubling
#: applied as it falls when the prefix precedes a 9-digit body): always 24.
_PREFIX_SUM = 24
#: A doubled digit's Luhn contribution (2d, minus 9 when that exceeds 9), per digit.
_DOUBLED = str.maketrans("0123456789", "0246813579")


@dataclass(frozen=True, slots=True)
class NpiCheck:
    """Outcome of :func:`validate_npi`: ``ok`` plus a reason a clinician can read."""

    ok: bool
    reason: str
    npi: str


def npi_check_digit(body: str) -> int:
    """The check digit for a 9-digit NPI body (digits 1-9 of the NPI)."""
    if len(body) != NPI_LENGTH - 1 or not (body.isascii() and body.isdigit()):
        raise ValueError("an NPI body is exactly nine digits")
    # Walking from the right, the rightmost body digit is doubled (the check
    # digit would sit in the undoubled place after it): body positions 1, 3,
    # 5, 7, 9 are doubled. Doubling is a digit-for-digit table lookup.
    doubled = body[0::2].translate(_DOUBLED)
    total = _PREFIX_SUM + sum(map(int, doubled + body[1::2]))
    return (10 - total % 10) % 10


def is_valid_npi(npi: str) -> bool:
    """Fast yes/no for bulk imports; :func:`validate_npi` says why not."""
    return (
        len(npi) == NPI_LENGTH
        and npi.isascii()
        and npi.isdigit()
        and npi[0] in "12"
        and npi_check_digit(npi[:9]) == ord(npi[9]) - 48
    )


def make_npi(body: str) -> str:
    """Append the check digit to a 9-digit body, giving a valid NPI."""
    return body + str(npi_check_digit(body))


def validate_npi(text: str) -> NpiCheck:
    """Check an NPI as typed by a person (surrounding spaces are ignored)."""
    npi = text.strip()
    if not npi:
        return NpiCheck(False, "No NPI given: an NPI is 10 digits, e.g. 1234567893.", npi)
    if not (npi.isascii() and npi.isdigit()):
        return NpiCheck(False, f"An NPI contains digits only; {npi!r} has other characters.", npi)
    if len(npi) != NPI_LENGTH:
        return NpiCheck(False, f"An NPI is exactly 10 digits; {npi!r} has {len(npi)}.", npi)
    if npi[0] not in "12":
        return NpiCheck(False, "An NPI starts with 1 or 2; please check the first digit.", npi)
    expected = npi_check_digit(npi[:9])
    if int(npi[9]) != expected:
        return NpiCheck(
            False,
            f"The check digit of {npi} is wrong (the last digit should be {expected}); "
            "a digit was probably mistyped.",
            npi,
        )
    return NpiCheck(True, "valid NPI", npi)
