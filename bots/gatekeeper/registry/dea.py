"""DEA registration number check digit.

A DEA number is two letters and seven digits, e.g. ``AB1234563``. The first
letter is the registrant type; the second is the initial of the registrant's
last name (or business name), or ``9`` for some business registrants. With the
digits d1..d7, the sum ``(d1 + d3 + d5) + 2 * (d2 + d4 + d6)`` must end in d7.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Registrant-type letters the DEA issues, and what each means. Prescribers are
#: A, B, F, G (practitioners; G is Department of Defence) and M (mid-level
#: practitioners such as NPs and PAs); X was the DATA-waiver prefix.
REGISTRANT_TYPES: dict[str, str] = {
    "A": "practitioner (older registrations)",
    "B": "hospital/clinic or practitioner",
    "C": "practitioner",
    "D": "teaching institution",
    "E": "manufacturer",
    "F": "practitioner (newer registrations)",
    "G": "Department of Defence practitioner",
    "H": "distributor",
    "J": "importer",
    "K": "exporter",
    "L": "reverse distributor",
    "M": "mid-level practitioner",
    "P": "narcotic treatment program",
    "R": "narcotic treatment program",
    "S": "researcher",
    "T": "analytical laboratory",
    "U": "narcotic treatment program",
    "X": "DATA-waived practitioner",
}


@dataclass(frozen=True, slots=True)
class DeaCheck:
    """Outcome of :func:`validate_dea`: ``ok`` plus a reason a clinician can read."""

    ok: bool
    reason: str
    dea: str


def dea_check_digit(digits: str) -> int:
    """The check digit for the first six digits of a DEA number."""
    if len(digits) != 6 or not (digits.isascii() and digits.isdigit()):
        raise ValueError("the DEA check digit is computed over exactly six digits")
    d = [ord(c) - 48 for c in digits]
    return ((d[0] + d[2] + d[4]) + 2 * (d[1] + d[3] + d[5])) % 10


def validate_dea(text: str) -> DeaCheck:
    """Check a DEA registration number as typed (case and spaces are forgiven)."""
    dea = text.strip().upper()
    if len(dea) != 9:
        return DeaCheck(
            False, f"A DEA number is 2 letters and 7 digits (9 characters); got {len(dea)}.", dea
        )
    kind, initial, digits = dea[0], dea[1], dea[2:]
    if kind not in REGISTRANT_TYPES:
        return DeaCheck(
            False, f"{kind!r} is not a DEA registrant type; the first letter is one of "
            + "".join(REGISTRANT_TYPES) + ".", dea
        )
    if not ((initial.isascii() and initial.isalpha()) or initial == "9"):
        return DeaCheck(False, "The second character of a DEA number is a letter (or 9).", dea)
    if not (digits.isascii() and digits.isdigit()):
        return DeaCheck(False, "The last seven characters of a DEA number are digits.", dea)
    expected = dea_check_digit(digits[:6])
    if int(digits[6]) != expected:
        return DeaCheck(
            False,
            f"The check digit of {dea} is wrong (the last digit should be {expected}); "
            "a digit was probably mistyped.",
            dea,
        )
    return DeaCheck(True, f"valid DEA number ({REGISTRANT_TYPES[kind]})", dea)
