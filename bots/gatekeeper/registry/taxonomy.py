"""NUCC Health Care Provider Taxonomy: import the code set, decide what is clinical.

The gatekeeper admits *clinicians* to verified rooms, so a registry hit is not
enough: the NPI's taxonomy must be one whose holders treat patients. NUCC
groups its codes under a small number of groupings, and the first two
characters of a code identify its grouping, so the decision is a table of
groupings (with the code prefixes that belong to each) plus a few code-level
exceptions. :func:`classify` needs no database; :func:`import_taxonomy` stores
the code set (for names) together with the same decision taken from the
file's own Grouping column, and a test checks that the two agree.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert

from bots.gatekeeper.registry.models import Taxonomy

NUCC_COLUMNS = (
    "Code",
    "Grouping",
    "Classification",
    "Specialization",
    "Definition",
    "Notes",
    "Display Name",
    "Section",
)


@dataclass(frozen=True, slots=True)
class GroupingRule:
    """Whether codes of one NUCC grouping are clinical, and why."""

    grouping: str
    prefixes: tuple[str, ...]
    clinical: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Classification:
    """The decision for one code, with the reason the bot can quote."""

    code: str
    clinical: bool
    reason: str


_LICENSED = "individual licensed practitioners who assess or treat patients"
_FACILITY = "an organisation or facility, not a person who treats patients"

#: The rule, one row per NUCC grouping.
GROUPING_RULES: tuple[GroupingRule, ...] = (
    GroupingRule("Allopathic & Osteopathic Physicians", ("20",), True, "physicians (MD/DO)"),
    GroupingRule(
        "Physician Assistants & Advanced Practice Nursing Providers",
        ("36",),
        True,
        "PAs, nurse practitioners, CNSs, CRNAs and nurse midwives: licensed prescribers",
    ),
    GroupingRule("Dental Providers", ("12",), True, "dentists and dental hygienists: " + _LICENSED),
    GroupingRule(
        "Podiatric Medicine & Surgery Service Providers", ("21",), True, "podiatrists: " + _LICENSED
    ),
    GroupingRule("Pharmacy Service Providers", ("18",), True, "pharmacists: " + _LICENSED),
    GroupingRule("Nursing Service Providers", ("16",), True, "registered and licensed nurses"),
    GroupingRule("Eye and Vision Services Providers", ("15",), True, "optometrists: " + _LICENSED),
    GroupingRule("Chiropractic Providers", ("11",), True, "chiropractors: " + _LICENSED),
    GroupingRule(
        "Behavioral Health & Social Service Providers",
        ("10",),
        True,
        "psychologists, counsellors and clinical social workers: " + _LICENSED,
    ),
    GroupingRule(
        "Respiratory, Developmental, Rehabilitative and Restorative Service Providers",
        ("22",),
        True,
        "physical, occupational and respiratory therapists: " + _LICENSED,
    ),
    GroupingRule(
        "Speech, Language and Hearing Service Providers",
        ("23",),
        True,
        "audiologists and speech-language pathologists: " + _LICENSED,
    ),
    GroupingRule(
        "Dietary & Nutritional Service Providers", ("13",), True, "dietitians: " + _LICENSED
    ),
    GroupingRule(
        "Emergency Medical Service Providers", ("14",), True, "EMTs and paramedics treat patients"
    ),
    GroupingRule(
        "Nursing Service Related Providers",
        ("37",),
        False,
        "aides and attendants: unlicensed support roles",
    ),
    GroupingRule(
        "Technologists, Technicians & Other Technical Service Providers",
        ("24",),
        False,
        "technologists and technicians work under a clinician's orders",
    ),
    GroupingRule(
        "Other Service Providers",
        ("17", "40"),
        False,
        "case managers, educators, community health workers: not licensed to treat",
    ),
    GroupingRule(
        "Student, Health Care", ("39",), False, "students are not independently licensed"
    ),
    GroupingRule("Group", ("19",), False, "a group practice: " + _FACILITY),
    GroupingRule("Agencies", ("25",), False, _FACILITY),
    GroupingRule("Ambulatory Health Care Facilities", ("26",), False, _FACILITY),
    GroupingRule("Hospital Units", ("27",), False, _FACILITY),
    GroupingRule("Hospitals", ("28",), False, _FACILITY),
    GroupingRule("Laboratories", ("29",), False, _FACILITY),
    GroupingRule("Managed Care Organizations", ("30",), False, "a health plan: " + _FACILITY),
    GroupingRule("Nursing & Custodial Care Facilities", ("31",), False, _FACILITY),
    GroupingRule("Residential Treatment Facilities", ("32",), False, _FACILITY),
    GroupingRule("Suppliers", ("33",), False, "a supplier (DME, pharmacy store): " + _FACILITY),
    GroupingRule("Transportation Services", ("34",), False, "transport: " + _FACILITY),
)

#: Codes inside a clinical grouping whose holders do not treat patients.
CODE_EXCEPTIONS: dict[str, tuple[bool, str]] = {
    "126800000X": (False, "dental assistants are unlicensed support staff"),
    "126900000X": (False, "dental laboratory technicians do not see patients"),
    "183700000X": (False, "pharmacy technicians work under a pharmacist"),
}

_BY_PREFIX = {prefix: rule for rule in GROUPING_RULES for prefix in rule.prefixes}
_BY_GROUPING = {rule.grouping.casefold(): rule for rule in GROUPING_RULES}


def _decide(code: str, rule: GroupingRule | None) -> Classification:
    exception = CODE_EXCEPTIONS.get(code)
    if exception is not None:
        return Classification(code, exception[0], exception[1])
    if rule is None:
        return Classification(code, False, f"{code!r} is not a known NUCC taxonomy grouping")
    return Classification(code, rule.clinical, f"{rule.grouping}: {rule.reason}")


def classify(code: str) -> Classification:
    """Decide from the code alone (its two-character grouping prefix)."""
    code = code.strip().upper()
    return _decide(code, _BY_PREFIX.get(code[:2]) if len(code) == 10 else None)


def classify_grouping(code: str, grouping: str) -> Classification:
    """Decide from NUCC's Grouping text, as the code-set file states it."""
    return _decide(code.strip().upper(), _BY_GROUPING.get(grouping.strip().casefold()))


def is_clinical(code: str) -> bool:
    """True when holders of taxonomy ``code`` are clinicians (see :data:`GROUPING_RULES`)."""
    return classify(code).clinical


class NuccFormatError(ValueError):
    """The file is not the NUCC taxonomy CSV."""


def import_taxonomy(engine: Engine, path: str | os.PathLike[str]) -> int:
    """Replace the stored code set with the NUCC CSV at ``path``; returns the code count.

    The code set is small (under a thousand rows), so it is replaced whole in
    one transaction rather than merged.
    """
    with open(path, encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in NUCC_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise NuccFormatError(f"not a NUCC taxonomy file: no {missing[0]!r} column")
        rows = [
            {
                "code": record["Code"].strip(),
                "grouping": record["Grouping"].strip(),
                "classification": record["Classification"].strip(),
                "specialization": record["Specialization"].strip() or None,
                "display_name": record["Display Name"].strip() or None,
                "section": record["Section"].strip() or None,
                "clinical": classify_grouping(record["Code"], record["Grouping"]).clinical,
            }
            for record in reader
            if record["Code"].strip()
        ]
    with engine.begin() as connection:
        connection.execute(delete(Taxonomy))
        if rows:
            connection.execute(insert(Taxonomy), rows)
    return len(rows)
