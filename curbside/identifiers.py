"""Check digits of identifiers that more than one package recognises.

An NPI (National Provider Identifier) is ten digits whose last digit is a
Luhn check digit computed over the nine identifier digits *prefixed with
80840* (the ISO 7812 issuer prefix for US health applications, per the CMS
NPI check-digit specification). Without the prefix the Luhn sum is off by a
constant 24, which is why a plain Luhn validator accepts the wrong numbers.

The gatekeeper verifies clinicians' NPIs with it; the phone-number rules
use it to catch an NPI typed where a fax number belongs.
"""

from __future__ import annotations

NPI_LENGTH = 10
#: Luhn contribution of the constant "80840" prefix (8+0+8+4+0 with doubling
#: applied as it falls when the prefix precedes a 9-digit body): always 24.
_PREFIX_SUM = 24
#: A doubled digit's Luhn contribution (2d, minus 9 when that exceeds 9), per digit.
_DOUBLED = str.maketrans("0123456789", "0246813579")


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
    """Ten digits, starting with 1 or 2, whose check digit is right."""
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
