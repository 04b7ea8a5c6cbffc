"""NUCC taxonomy: names for codes, the clinical rule, and the directory search."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bots.gatekeeper.registry import (
    classify,
    find_provider,
    import_nppes,
    import_taxonomy,
    is_clinical,
    search_providers,
    specialty_codes,
)
from bots.gatekeeper.registry.models import Taxonomy
from bots.gatekeeper.registry.npi import make_npi
from bots.gatekeeper.registry.taxonomy import GROUPING_RULES, NuccFormatError, classify_grouping

from .conftest import NUCC_EXCERPT, NppesWriter


def excerpt() -> list[dict[str, str]]:
    with open(NUCC_EXCERPT, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.parametrize(
    ("code", "clinical"),
    [
        ("207RC0000X", True),  # Cardiovascular Disease physician
        ("207Q00000X", True),  # Family Medicine physician
        ("363L00000X", True),  # Nurse Practitioner
        ("1223G0001X", True),  # General Practice dentist
        ("213E00000X", True),  # Podiatrist
        ("183500000X", True),  # Pharmacist
        ("183700000X", False),  # Pharmacy technician: an exception in a clinical grouping
        ("126800000X", False),  # Dental assistant: likewise
        ("343900000X", False),  # Non-emergency medical transport
        ("332B00000X", False),  # DME supplier
        ("282N00000X", False),  # Hospital
        ("ZZ0000000X", False),  # unknown grouping
        ("207RC", False),  # not a code
    ],
)
def test_is_clinical(code: str, clinical: bool) -> None:
    assert is_clinical(code) is clinical
    assert classify(code).reason


def test_prefix_rule_agrees_with_nucc_grouping_for_every_code() -> None:
    rows = excerpt()
    assert len(rows) >= 40
    for row in rows:
        by_prefix = classify(row["Code"])
        by_grouping = classify_grouping(row["Code"], row["Grouping"])
        assert by_prefix == by_grouping, row["Code"]


def test_every_grouping_in_the_excerpt_has_a_rule() -> None:
    groupings = {rule.grouping for rule in GROUPING_RULES}
    assert {row["Grouping"] for row in excerpt()} <= groupings


def test_import_taxonomy_resolves_names(engine: Engine) -> None:
    assert import_taxonomy(engine, NUCC_EXCERPT) == len(excerpt())
    assert import_taxonomy(engine, NUCC_EXCERPT) == len(excerpt())  # replaces, no duplicates
    with Session(engine) as session:
        cardio = session.get(Taxonomy, "207RC0000X")
        van = session.get(Taxonomy, "343900000X")
        count = len(session.execute(select(Taxonomy.code)).all())
    assert count == len(excerpt())
    assert cardio is not None and van is not None
    assert (cardio.classification, cardio.specialization) == (
        "Internal Medicine",
        "Cardiovascular Disease",
    )
    assert cardio.display_name == "Cardiovascular Disease Physician" and cardio.clinical
    assert van.classification == "Non-emergency Medical Transport (VAN)" and not van.clinical


def test_import_taxonomy_refuses_other_files(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "not_nucc.csv"
    path.write_text("Code,Name\n207RC0000X,Cardiology\n", encoding="utf-8")
    with pytest.raises(NuccFormatError, match="Grouping"):
        import_taxonomy(engine, path)


def test_specialty_words_find_codes(engine: Engine) -> None:
    import_taxonomy(engine, NUCC_EXCERPT)
    assert specialty_codes(engine, "cardiology") == ["207RC0000X", "207RI0011X", "2080P0202X"]
    assert specialty_codes(engine, "Family Medicine") == ["207Q00000X"]
    assert specialty_codes(engine, "207x00000x") == ["207X00000X"]
    assert specialty_codes(engine, "astrology") == []


def _doctor(npi: str, last: str, state: str, code: str, **extra: str) -> dict[str, str]:
    return {
        "NPI": npi,
        "Entity Type Code": "1",
        "Provider Last Name (Legal Name)": last,
        "Provider First Name": "PAT",
        "Provider Credential Text": "MD",
        "Provider Business Practice Location Address State Name": state,
        "Last Update Date": "01/01/2024",
        "Healthcare Provider Taxonomy Code_1": code,
        "Provider License Number_1": f"{state}1",
        "Provider License Number State Code_1": state,
        "Healthcare Provider Primary Taxonomy Switch_1": "Y",
        **extra,
    }


def test_find_cardiology_in_massachusetts(engine: Engine, write_nppes: NppesWriter) -> None:
    import_taxonomy(engine, NUCC_EXCERPT)
    rows = [
        _doctor(make_npi("100000010"), "ZHANG", "MA", "207RC0000X"),
        _doctor(make_npi("100000020"), "ABBOTT", "MA", "207RI0011X"),
        _doctor(make_npi("100000030"), "NEWYORKER", "NY", "207RC0000X"),
        _doctor(make_npi("100000040"), "FAMILY", "MA", "207Q00000X"),
        _doctor(
            make_npi("100000050"),
            "GONE",
            "MA",
            "207RC0000X",
            **{"NPI Deactivation Date": "01/01/2020"},
        ),
    ]
    import_nppes(engine, write_nppes("directory.csv", rows))

    with Session(engine) as session:  # the bot's own unit of work works too
        found = search_providers(session, "cardiology", "ma")
    assert [p.last_name for p in found] == ["ABBOTT", "ZHANG"]
    assert found[1].licences[0].specialty == "Internal Medicine - Cardiovascular Disease"
    assert found[1].licences[0].clinical
    assert search_providers(engine, "cardiology", "MA", limit=1)[0].last_name == "ABBOTT"
    assert search_providers(engine, "astrology", "MA") == []

    family = find_provider(engine, make_npi("100000040"))
    assert family is not None and family.licences[0].specialty == "Family Medicine"
