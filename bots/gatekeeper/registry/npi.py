"""National Provider Identifier (NPI) checks, with reasons a clinician can read.

The check digit itself (Luhn over the body prefixed with 80840) is computed
in the kernel, :mod:`curbside.identifiers`, because the phone-number rules
use it too; this module adds the verdicts the gatekeeper quotes.

The bot quotes :attr:`NpiCheck.reason` back to the clinician, so every failure
says what is wrong in words a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from curbside.identifiers import NPI_LENGTH, is_valid_npi, make_npi, npi_check_digit

__all__ = ["NpiCheck", "is_valid_npi", "make_npi", "npi_check_digit", "validate_npi"]


@dataclass(frozen=True, slots=True)
class NpiCheck:
    """Outcome of :func:`validate_npi`: ``ok`` plus a reason a clinician can read."""

    ok: bool
    reason: str
    npi: str


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
