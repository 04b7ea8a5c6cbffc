"""The CMS NPPES dissemination file layout (``npidata_pfile_*.csv``).

Source of the header: the CMS "NPPES Data Dissemination - Readme" (updated
1 February 2025), Exhibit 2-1 "Data File Layout", which lists the 330 column
headers in file order; public repositories that load the file carry the same
list (found with the code search for "Provider License Number State Code_1" and
"Healthcare Provider Taxonomy Group_15"). The repeated blocks are built below
with the exact header text rather than typed out 330 times; the test suite pins
the count, the order and sample positions.

Files published before 2025 call column 42 "Provider Gender Code"; later ones
"Provider Sex Code". :data:`SEX_COLUMN_ALIASES` lets the importer read both.

Every value in the file is double-quoted; dates are MM/DD/YYYY.
"""

from __future__ import annotations

TAXONOMY_SLOTS = 15
OTHER_IDENTIFIER_SLOTS = 50

SEX_COLUMN = "Provider Sex Code"
SEX_COLUMN_ALIASES = (SEX_COLUMN, "Provider Gender Code")

_LEADING = (
    "NPI",
    "Entity Type Code",
    "Replacement NPI",
    "Employer Identification Number (EIN)",
    "Provider Organization Name (Legal Business Name)",
    "Provider Last Name (Legal Name)",
    "Provider First Name",
    "Provider Middle Name",
    "Provider Name Prefix Text",
    "Provider Name Suffix Text",
    "Provider Credential Text",
    "Provider Other Organization Name",
    "Provider Other Organization Name Type Code",
    "Provider Other Last Name",
    "Provider Other First Name",
    "Provider Other Middle Name",
    "Provider Other Name Prefix Text",
    "Provider Other Name Suffix Text",
    "Provider Other Credential Text",
    "Provider Other Last Name Type Code",
    "Provider First Line Business Mailing Address",
    "Provider Second Line Business Mailing Address",
    "Provider Business Mailing Address City Name",
    "Provider Business Mailing Address State Name",
    "Provider Business Mailing Address Postal Code",
    "Provider Business Mailing Address Country Code (If outside U.S.)",
    "Provider Business Mailing Address Telephone Number",
    "Provider Business Mailing Address Fax Number",
    "Provider First Line Business Practice Location Address",
    "Provider Second Line Business Practice Location Address",
    "Provider Business Practice Location Address City Name",
    "Provider Business Practice Location Address State Name",
    "Provider Business Practice Location Address Postal Code",
    "Provider Business Practice Location Address Country Code (If outside U.S.)",
    "Provider Business Practice Location Address Telephone Number",
    "Provider Business Practice Location Address Fax Number",
    "Provider Enumeration Date",
    "Last Update Date",
    "NPI Deactivation Reason Code",
    "NPI Deactivation Date",
    "NPI Reactivation Date",
    SEX_COLUMN,
    "Authorized Official Last Name",
    "Authorized Official First Name",
    "Authorized Official Middle Name",
    "Authorized Official Title or Position",
    "Authorized Official Telephone Number",
)

_TRAILING = (
    "Is Sole Proprietor",
    "Is Organization Subpart",
    "Parent Organization LBN",
    "Parent Organization TIN",
    "Authorized Official Name Prefix Text",
    "Authorized Official Name Suffix Text",
    "Authorized Official Credential Text",
)


def taxonomy_code_column(slot: int) -> str:
    """Header of taxonomy slot ``slot`` (1-15)."""
    return f"Healthcare Provider Taxonomy Code_{slot}"


def licence_number_column(slot: int) -> str:
    """Header of the licence number paired with taxonomy slot ``slot``."""
    return f"Provider License Number_{slot}"


def licence_state_column(slot: int) -> str:
    """Header of the licence state paired with taxonomy slot ``slot``."""
    return f"Provider License Number State Code_{slot}"


def primary_switch_column(slot: int) -> str:
    """Header of the Y/N/X primary-taxonomy switch of slot ``slot``."""
    return f"Healthcare Provider Primary Taxonomy Switch_{slot}"


def _build_header() -> tuple[str, ...]:
    columns: list[str] = list(_LEADING)
    for slot in range(1, TAXONOMY_SLOTS + 1):
        columns += [
            taxonomy_code_column(slot),
            licence_number_column(slot),
            licence_state_column(slot),
            primary_switch_column(slot),
        ]
    for slot in range(1, OTHER_IDENTIFIER_SLOTS + 1):
        columns += [
            f"Other Provider Identifier_{slot}",
            f"Other Provider Identifier Type Code_{slot}",
            f"Other Provider Identifier State_{slot}",
            f"Other Provider Identifier Issuer_{slot}",
        ]
    columns += _TRAILING
    columns += [f"Healthcare Provider Taxonomy Group_{slot}" for slot in range(1, 16)]
    columns.append("Certification Date")
    return tuple(columns)


#: The 330 column headers of the data file, in file order.
HEADER: tuple[str, ...] = _build_header()

#: Single-valued columns the registry stores, by our field name.
PROVIDER_COLUMNS: dict[str, str] = {
    "npi": "NPI",
    "entity_type": "Entity Type Code",
    "organization_name": "Provider Organization Name (Legal Business Name)",
    "last_name": "Provider Last Name (Legal Name)",
    "first_name": "Provider First Name",
    "middle_name": "Provider Middle Name",
    "name_prefix": "Provider Name Prefix Text",
    "name_suffix": "Provider Name Suffix Text",
    "credential": "Provider Credential Text",
    "practice_state": "Provider Business Practice Location Address State Name",
    "practice_postal_code": "Provider Business Practice Location Address Postal Code",
    "practice_fax": "Provider Business Practice Location Address Fax Number",
    "enumeration_date": "Provider Enumeration Date",
    "last_update_date": "Last Update Date",
    "deactivation_date": "NPI Deactivation Date",
    "reactivation_date": "NPI Reactivation Date",
    "sex": SEX_COLUMN,
}

#: Primary-taxonomy switch values: Y primary, N not primary, X not answered.
PRIMARY_YES = "Y"
