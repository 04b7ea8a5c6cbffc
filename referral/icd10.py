"""ICD-10-CM codes checked against the real code set, with their descriptions.

    "i4891" ──shape (validation.parse_icd10)──> "I48.91"
            ──lookup(simple-icd-10-cm's tabular list)──> Icd10Code("I48.91",
                                                  "Unspecified atrial fibrillation")
    unknown or a category ("I48", "I48.99") ──> IcdError naming the closest billable codes

A referral office files a claim on a billable code (a leaf of the tabular
list), so a category is refused with its billable children, and a code that
does not exist with the nearest ones: the billable codes under its longest
existing prefix, or, when not even the first three characters exist, the
codes closest by edit distance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from types import ModuleType

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

SUGGESTIONS = 3


@dataclass(frozen=True, slots=True)
class Icd10Code:
    code: str
    description: str

    def __str__(self) -> str:
        return f"{self.code} ({self.description})"


class IcdError(ValueError):
    """The code is not a billable ICD-10-CM code; ``closest`` are ones that are."""

    def __init__(self, message: str, closest: tuple[Icd10Code, ...]) -> None:
        super().__init__(message)
        self.closest = closest


@cache
def _codes() -> ModuleType:
    with warnings.catch_warnings():  # the package reads its data with a deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


@cache
def _billable() -> tuple[str, ...]:
    codes = _codes()
    return tuple(c for c in codes.get_all_codes(with_dots=True) if _is_code(c) and codes.is_leaf(c))


def _entry(code: str) -> Icd10Code:
    codes = _codes()
    return Icd10Code(codes.add_dot(code), codes.get_description(code))


def _is_code(code: str) -> bool:
    codes = _codes()
    return bool(codes.is_valid_item(code)) and not (
        codes.is_chapter(code) or codes.is_block(code)
    )


def _closest(code: str) -> tuple[Icd10Code, ...]:
    codes = _codes()
    prefix = code
    while prefix and not _is_code(prefix):
        prefix = prefix[:-1].rstrip(".")
    if len(prefix) >= 3:
        candidates = [c for c in codes.get_descendants(prefix) if codes.is_leaf(c)]
    else:
        candidates = list(_billable())
    ranked = process.extract(code, candidates, scorer=Levenshtein.distance, limit=SUGGESTIONS)
    return tuple(_entry(match) for match, _score, _index in ranked)


def lookup(code: str) -> Icd10Code:
    """The billable code ``code`` (dotted, upper case) with its description, or IcdError."""
    codes = _codes()
    if _is_code(code) and codes.is_leaf(code):
        return _entry(code)
    closest = _closest(code)
    nearest = "; ".join(str(c) for c in closest)
    if _is_code(code):
        message = (f"{code} ({codes.get_description(code)}) is a category, not a billable "
                   f"code; use a more specific one, e.g. {nearest}")
    else:
        message = f"{code} is not in the ICD-10-CM code set; the closest are {nearest}"
    raise IcdError(message, closest)


def preload() -> None:
    """Read the code set now (seconds), not on the first referral's ICD-10 answer."""
    _billable()


def describe(code: str) -> str:
    """The description of a stored code ("" for one the code set no longer has)."""
    return _codes().get_description(code) if _is_code(code) else ""
