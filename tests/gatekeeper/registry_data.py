"""A small provider registry for the gatekeeper tests, written in the official NPPES format.

Every person and organisation the scenarios need is one row here; the file
goes through the real importer (``import_nppes``) and the NUCC excerpt
through ``import_taxonomy``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Engine

from bots.gatekeeper.registry import import_nppes, import_taxonomy
from bots.gatekeeper.registry.npi import make_npi
from bots.gatekeeper.registry.nppes_format import HEADER

NUCC_EXCERPT = Path(__file__).parent.parent / "registry" / "data" / "nucc_taxonomy_excerpt.csv"

DANA = make_npi("123456789")
BOB = make_npi("123456790")
CAROL = make_npi("123456791")
TECH = make_npi("123456792")
ORGANISATION = make_npi("123456793")
DEACTIVATED = make_npi("123456794")
#: Deactivated by the second import (see :func:`deactivate`).
LATER_DEACTIVATED = make_npi("123456795")
#: Lists a practice fax in NPPES (verification by fax).
FRAN = make_npi("123456796")
FRAN_FAX = "3125550142"  # as NPPES publishes it: ten digits
BAD_CHECK_DIGIT = DANA[:9] + str((int(DANA[9]) + 1) % 10)


def _person(npi: str, first: str, middle: str, last: str, credential: str,
            slots: list[tuple[str, str, str]], fax: str = "") -> dict[str, str]:
    row = {
        "NPI": npi,
        "Entity Type Code": "1",
        "Provider Last Name (Legal Name)": last,
        "Provider First Name": first,
        "Provider Middle Name": middle,
        "Provider Credential Text": credential,
        "Provider Business Practice Location Address State Name": slots[0][1],
        "Provider Enumeration Date": "05/23/2010",
        "Last Update Date": "01/02/2024",
        "Provider Business Practice Location Address Fax Number": fax,
    }
    for index, (code, state, number) in enumerate(slots, start=1):
        row[f"Healthcare Provider Taxonomy Code_{index}"] = code
        row[f"Provider License Number State Code_{index}"] = state
        row[f"Provider License Number_{index}"] = number
        row[f"Healthcare Provider Primary Taxonomy Switch_{index}"] = "Y" if index == 1 else "N"
    return row


ROWS: list[dict[str, str]] = [
    _person(DANA, "DANA", "JANE", "WHITFIELD", "M.D.",
            [("207RC0000X", "MA", "MD123456"), ("207R00000X", "NH", "NH-7788")]),
    _person(BOB, "ROBERT", "", "CHEN", "MD", [("207RC0000X", "MA", "MD222222")]),
    _person(CAROL, "CAROL", "", "NGUYEN", "NP", [("363L00000X", "MA", "RN333333")]),
    _person(TECH, "TERRY", "", "TECHNO", "", [("247100000X", "MA", "RT444444")]),
    _person(LATER_DEACTIVATED, "LEE", "", "LATER", "DO", [("207Q00000X", "MA", "DO555555")]),
    _person(FRAN, "FRANCES", "", "FAXWELL", "MD", [("207RC0000X", "IL", "036-123456")],
            fax=FRAN_FAX),
    {
        "NPI": ORGANISATION,
        "Entity Type Code": "2",
        "Provider Organization Name (Legal Business Name)": "BOSTON HEART CLINIC",
        "Provider Business Practice Location Address State Name": "MA",
        "Provider Enumeration Date": "05/23/2010",
        "Last Update Date": "01/02/2024",
        "Healthcare Provider Taxonomy Code_1": "261QP2300X",
        "Healthcare Provider Primary Taxonomy Switch_1": "Y",
    },
    {"NPI": DEACTIVATED, "NPI Deactivation Date": "03/04/2023"},
]


def write_nppes(path: Path, rows: list[Mapping[str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([row.get(column, "") for column in HEADER])
    return path


def load_registry(engine: Engine, directory: Path) -> None:
    import_taxonomy(engine, NUCC_EXCERPT)
    result = import_nppes(engine, write_nppes(directory / "npidata_pfile.csv", ROWS))
    assert result.rejected == 0, result.rejections


def deactivate(engine: Engine, directory: Path) -> None:
    """A weekly update that deactivates LATER_DEACTIVATED."""
    update = [{"NPI": LATER_DEACTIVATED, "NPI Deactivation Date": "06/01/2025"}]
    result = import_nppes(engine, write_nppes(directory / "npidata_weekly.csv", update))
    assert result.deactivated == 1
