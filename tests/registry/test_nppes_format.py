"""The official NPPES header: 330 columns in the published order."""

from __future__ import annotations

from bots.gatekeeper.registry.nppes_format import HEADER, PROVIDER_COLUMNS


def test_header_has_330_unique_columns() -> None:
    assert len(HEADER) == 330
    assert len(set(HEADER)) == 330


def test_header_positions_match_the_readme() -> None:
    assert HEADER[:3] == ("NPI", "Entity Type Code", "Replacement NPI")
    assert HEADER[39] == "NPI Deactivation Date"
    assert HEADER[41] == "Provider Sex Code"
    assert HEADER[47:51] == (
        "Healthcare Provider Taxonomy Code_1",
        "Provider License Number_1",
        "Provider License Number State Code_1",
        "Healthcare Provider Primary Taxonomy Switch_1",
    )
    assert HEADER[106] == "Healthcare Provider Primary Taxonomy Switch_15"
    assert HEADER[107] == "Other Provider Identifier_1"
    assert HEADER[306] == "Other Provider Identifier Issuer_50"
    assert HEADER[307] == "Is Sole Proprietor"
    assert HEADER[314] == "Healthcare Provider Taxonomy Group_1"
    assert HEADER[328] == "Healthcare Provider Taxonomy Group_15"
    assert HEADER[329] == "Certification Date"


def test_every_stored_column_is_in_the_header() -> None:
    assert set(PROVIDER_COLUMNS.values()) <= set(HEADER)
