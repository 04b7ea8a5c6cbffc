"""Importing NPPES files: first load, idempotent re-load, a weekly file that changes status."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, text

from bots.gatekeeper.registry import find_provider, import_nppes
from bots.gatekeeper.registry.importer import NppesFormatError
from bots.gatekeeper.registry.models import Licence, Provider
from bots.gatekeeper.registry.npi import make_npi
from bots.gatekeeper.registry.nppes_format import HEADER
from bots.gatekeeper.registry.synthetic import generate_nppes_file

from .conftest import NppesWriter

CARDIOLOGIST = "1234567893"
NURSE_PRACTITIONER = "1003000126"
CLINIC = "1245319599"
RETIRED = "1497758544"
TYPO = "1234567890"


def cardiologist(**changes: str) -> dict[str, str]:
    row = {
        "NPI": CARDIOLOGIST,
        "Entity Type Code": "1",
        "Provider Last Name (Legal Name)": "OKAFOR",
        "Provider First Name": "ADAEZE",
        "Provider Middle Name": "N",
        "Provider Name Prefix Text": "DR.",
        "Provider Credential Text": "M.D.",
        "Provider Business Practice Location Address State Name": "MA",
        "Provider Business Practice Location Address Postal Code": "021141234",
        "Provider Enumeration Date": "03/14/2008",
        "Last Update Date": "07/01/2021",
        "Provider Sex Code": "F",
        "Healthcare Provider Taxonomy Code_1": "207R00000X",
        "Provider License Number_1": "MD123",
        "Provider License Number State Code_1": "NY",
        "Healthcare Provider Primary Taxonomy Switch_1": "N",
        "Healthcare Provider Taxonomy Code_2": "207RC0000X",
        "Provider License Number_2": "MA98765",
        "Provider License Number State Code_2": "MA",
        "Healthcare Provider Primary Taxonomy Switch_2": "Y",
    }
    row.update(changes)
    return row


def first_month() -> list[dict[str, str]]:
    return [
        cardiologist(),
        {
            "NPI": NURSE_PRACTITIONER,
            "Entity Type Code": "1",
            "Provider Last Name (Legal Name)": "NGUYEN",
            "Provider First Name": "LINH",
            "Provider Credential Text": "FNP-BC",
            "Provider Business Practice Location Address State Name": "VT",
            "Provider Enumeration Date": "01/02/2010",
            "Last Update Date": "01/02/2010",
            "Provider Sex Code": "F",
            "Healthcare Provider Taxonomy Code_1": "363LF0000X",
            "Provider License Number_1": "101.0134",
            "Provider License Number State Code_1": "VT",
            "Healthcare Provider Primary Taxonomy Switch_1": "Y",
        },
        {
            "NPI": CLINIC,
            "Entity Type Code": "2",
            "Provider Organization Name (Legal Business Name)": "GREEN MOUNTAIN CLINIC, LLC",
            "Provider Business Practice Location Address State Name": "VT",
            "Provider Enumeration Date": "05/05/2015",
            "Last Update Date": "06/06/2016",
            "Healthcare Provider Taxonomy Code_1": "261QP2300X",
            "Healthcare Provider Primary Taxonomy Switch_1": "Y",
        },
        {"NPI": RETIRED, "NPI Deactivation Date": "09/30/2019"},
        {"NPI": TYPO, "Entity Type Code": "1", "Provider Last Name (Legal Name)": "TYPO"},
        {
            "NPI": make_npi("100000001"),
            "Entity Type Code": "1",
            "Provider Enumeration Date": "2010-01-02",
        },
        {"NPI": make_npi("100000002"), "Entity Type Code": "1", "Last Update Date": "02/30/2020"},
        {
            "NPI": make_npi("100000003"),
            "Entity Type Code": "1",
            "Healthcare Provider Taxonomy Code_1": "207RC0000XX",
        },
    ]


def count(engine: Engine, model: type[Provider] | type[Licence]) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def test_first_import_stores_what_verification_needs(
    engine: Engine, write_nppes: NppesWriter
) -> None:
    path = write_nppes("npidata_pfile_20050523-20240107.csv", first_month())
    progress: list[tuple[int, int]] = []
    result = import_nppes(engine, path, progress=lambda done, total: progress.append((done, total)))

    assert (result.rows_read, result.inserted, result.updated, result.unchanged) == (8, 4, 0, 0)
    assert (result.deactivated, result.reactivated, result.rejected) == (1, 0, 4)
    reasons = {r.npi: r.reason for r in result.rejections}
    assert "check digit" in reasons[TYPO]
    assert "'2010-01-02' is not a MM/DD/YYYY date" in reasons[make_npi("100000001")]
    assert "'02/30/2020' is not a MM/DD/YYYY date" in reasons[make_npi("100000002")]
    assert "longer than 10 characters" in reasons[make_npi("100000003")]
    assert [r.line for r in result.rejections] == [6, 7, 8, 9]
    assert progress[-1] == (path.stat().st_size, path.stat().st_size)

    doctor = find_provider(engine, CARDIOLOGIST)
    assert doctor is not None
    assert doctor.active and doctor.is_individual
    assert doctor.display_name == "ADAEZE N OKAFOR, M.D."
    assert (doctor.name_prefix, doctor.sex) == ("DR.", "F")
    assert (doctor.practice_state, doctor.practice_postal_code) == ("MA", "021141234")
    assert doctor.enumeration_date == dt.date(2008, 3, 14)
    assert doctor.last_update_date == dt.date(2021, 7, 1)
    assert [(lic.slot, lic.taxonomy_code, lic.licence_number, lic.licence_state, lic.is_primary)
            for lic in doctor.licences] == [
        (1, "207R00000X", "MD123", "NY", False),
        (2, "207RC0000X", "MA98765", "MA", True),
    ]
    assert doctor.primary_licence is not None
    assert doctor.primary_licence.taxonomy_code == "207RC0000X"

    clinic = find_provider(engine, CLINIC)
    assert clinic is not None and clinic.entity_type == 2
    assert clinic.display_name == "GREEN MOUNTAIN CLINIC, LLC"

    retired = find_provider(engine, RETIRED)
    assert retired is not None and not retired.active
    assert retired.deactivation_date == dt.date(2019, 9, 30)
    assert find_provider(engine, TYPO) is None


def test_reimport_is_idempotent(engine: Engine, write_nppes: NppesWriter) -> None:
    path = write_nppes("month.csv", first_month())
    import_nppes(engine, path)
    providers, licences = count(engine, Provider), count(engine, Licence)

    again = import_nppes(engine, path)

    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 4, 4)
    assert (again.deactivated, again.reactivated) == (0, 0)
    assert (count(engine, Provider), count(engine, Licence)) == (providers, licences) == (4, 4)


def test_weekly_file_deactivates_reactivates_and_updates(
    engine: Engine, write_nppes: NppesWriter
) -> None:
    import_nppes(engine, write_nppes("month.csv", first_month()))
    week = [
        # The nurse practitioner's NPI is deactivated: CMS publishes NPI and date only.
        {"NPI": NURSE_PRACTITIONER, "NPI Deactivation Date": "02/01/2024"},
        # The retired NPI comes back, with a reactivation date after the deactivation.
        {
            "NPI": RETIRED,
            "Entity Type Code": "1",
            "Provider Last Name (Legal Name)": "BACK",
            "Provider First Name": "AGAIN",
            "Provider Business Practice Location Address State Name": "NH",
            "Provider Enumeration Date": "01/01/2007",
            "Last Update Date": "02/02/2024",
            "NPI Deactivation Date": "09/30/2019",
            "NPI Reactivation Date": "02/02/2024",
            "Healthcare Provider Taxonomy Code_1": "207Q00000X",
            "Provider License Number_1": "NH555",
            "Provider License Number State Code_1": "NH",
            "Healthcare Provider Primary Taxonomy Switch_1": "Y",
        },
        # The cardiologist dropped the New York licence.
        cardiologist(
            **{
                "Last Update Date": "02/03/2024",
                "Healthcare Provider Taxonomy Code_1": "207RC0000X",
                "Provider License Number_1": "MA98765",
                "Provider License Number State Code_1": "MA",
                "Healthcare Provider Primary Taxonomy Switch_1": "Y",
                "Healthcare Provider Taxonomy Code_2": "",
                "Provider License Number_2": "",
                "Provider License Number State Code_2": "",
                "Healthcare Provider Primary Taxonomy Switch_2": "",
            }
        ),
    ]
    result = import_nppes(engine, write_nppes("week.csv", week))

    assert (result.rows_read, result.inserted, result.updated, result.unchanged) == (3, 0, 3, 0)
    assert (result.deactivated, result.reactivated, result.rejected) == (1, 1, 0)

    nurse = find_provider(engine, NURSE_PRACTITIONER)
    assert nurse is not None and not nurse.active
    assert nurse.deactivation_date == dt.date(2024, 2, 1)
    # Who held the NPI is kept, so the bot can say whose NPI was deactivated.
    assert nurse.display_name == "LINH NGUYEN, FNP-BC"
    assert [lic.taxonomy_code for lic in nurse.licences] == ["363LF0000X"]

    back = find_provider(engine, RETIRED)
    assert back is not None and back.active
    assert back.reactivation_date == dt.date(2024, 2, 2)
    assert [lic.licence_number for lic in back.licences] == ["NH555"]

    doctor = find_provider(engine, CARDIOLOGIST)
    assert doctor is not None
    assert [(lic.slot, lic.licence_state) for lic in doctor.licences] == [(1, "MA")]

    # Replaying the weekly file changes nothing more.
    replay = import_nppes(engine, write_nppes("week.csv", week))
    assert (replay.updated, replay.unchanged) == (0, 3)
    assert (replay.deactivated, replay.reactivated) == (0, 0)


def test_repeated_npi_in_one_file_counts_each_row(
    engine: Engine, write_nppes: NppesWriter
) -> None:
    rows = [cardiologist(), cardiologist(**{"Last Update Date": "08/01/2021"})]
    result = import_nppes(engine, write_nppes("dup.csv", rows))
    assert (result.inserted, result.updated) == (1, 1)
    doctor = find_provider(engine, CARDIOLOGIST)
    assert doctor is not None and doctor.last_update_date == dt.date(2021, 8, 1)
    assert len(doctor.licences) == 2


def test_older_gender_code_header_is_read(engine: Engine, tmp_path: Path) -> None:
    header = ['"Provider Gender Code"' if h == "Provider Sex Code" else f'"{h}"' for h in HEADER]
    row = ['""'] * len(HEADER)
    row[0], row[1], row[41] = '"1234567893"', '"1"', '"M"'
    path = tmp_path / "old.csv"
    path.write_text(",".join(header) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    assert import_nppes(engine, path).inserted == 1
    doctor = find_provider(engine, CARDIOLOGIST)
    assert doctor is not None and doctor.sex == "M"


def test_a_file_that_is_not_nppes_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text('"NPI","Name"\n"1234567893","X"\n', encoding="utf-8")
    with pytest.raises(NppesFormatError, match="lacks 'Entity Type Code'"):
        import_nppes(engine, path)


def test_synthetic_file_imports_in_many_batches(engine: Engine, tmp_path: Path) -> None:
    generated = generate_nppes_file(tmp_path / "synthetic.csv", 1_500, seed=5)
    result = import_nppes(engine, generated.path, batch_size=97)
    assert result.rejected == 0
    assert result.inserted == generated.rows
    assert result.deactivated == generated.deactivated
    assert count(engine, Provider) == generated.rows
    with engine.connect() as connection:
        inactive = connection.execute(
            select(func.count()).select_from(Provider).where(Provider.active.is_(False))
        ).scalar_one()
    assert inactive == generated.deactivated
    again = import_nppes(engine, generated.path, batch_size=1_000)
    assert again.unchanged == generated.rows


def _index_names(engine: Engine) -> set[str]:
    inspector = inspect(engine)
    return {
        index["name"] or ""
        for table in ("registry_providers", "registry_licences")
        for index in inspector.get_indexes(table)
    }


def test_indexes_are_back_after_a_bulk_load_and_repaired_later(
    engine: Engine, write_nppes: NppesWriter
) -> None:
    expected = {"ix_registry_providers_practice_state", "ix_registry_licences_taxonomy_code"}
    import_nppes(engine, write_nppes("month.csv", first_month()))
    assert expected <= _index_names(engine)

    with engine.begin() as connection:  # as if a crash had interrupted a bulk load
        connection.execute(text("DROP INDEX ix_registry_licences_taxonomy_code"))
    import_nppes(engine, write_nppes("week.csv", [cardiologist()]))
    assert expected <= _index_names(engine)


def _dump(engine: Engine, leave_out: str) -> tuple[list[tuple[str | None, ...]], ...]:
    """Every stored row but ``leave_out``'s, in key order, as text."""
    tables: list[list[tuple[str | None, ...]]] = []
    with engine.connect() as connection:
        for model, order in ((Provider, (Provider.npi,)), (Licence, (Licence.npi, Licence.slot))):
            rows = connection.execute(
                select(model.__table__).where(model.npi != leave_out).order_by(*order)
            )
            tables.append([tuple(str(v) if v is not None else None for v in r) for r in rows])
    return tuple(tables)


def _import_over_one_other_npi(
    engine: Engine, write_nppes: NppesWriter, path: Path
) -> tuple[object, ...]:
    """Import ``path`` into a registry already holding CLINIC (the merge over stored rows)."""
    with engine.begin() as connection:
        for table in ("registry_licences", "registry_providers"):
            connection.execute(text(f"DELETE FROM {table}"))
    clinic = [row for row in first_month() if row["NPI"] == CLINIC]
    import_nppes(engine, write_nppes("clinic.csv", clinic))
    result = import_nppes(engine, path, batch_size=50)
    return (result.rows_read, result.inserted, result.updated, result.unchanged,
            result.deactivated, result.reactivated, result.rejected)


def test_first_load_with_repeated_npis_matches_a_load_over_existing_rows(
    engine: Engine, write_nppes: NppesWriter
) -> None:
    reactivated = {
        "NPI": RETIRED,
        "Entity Type Code": "1",
        "Provider Last Name (Legal Name)": "BACK",
        "Provider Enumeration Date": "01/01/2007",
        "Last Update Date": "02/02/2024",
        "NPI Deactivation Date": "09/30/2019",
        "NPI Reactivation Date": "02/02/2024",
        "Healthcare Provider Taxonomy Code_1": "207Q00000X",
        "Healthcare Provider Primary Taxonomy Switch_1": "Y",
    }
    nurse = next(row for row in first_month() if row["NPI"] == NURSE_PRACTITIONER)
    rows = [
        cardiologist(),
        {"NPI": RETIRED, "NPI Deactivation Date": "09/30/2019"},
        cardiologist(**{"Last Update Date": "08/01/2021", "Provider Credential Text": "MD"}),
        reactivated,
        nurse,
        cardiologist(**{"Last Update Date": "08/01/2021", "Provider Credential Text": "MD"}),
        {"NPI": NURSE_PRACTITIONER, "NPI Deactivation Date": "02/01/2024"},
    ]
    path = write_nppes("repeats.csv", rows)

    first = import_nppes(engine, path, batch_size=2)  # an empty registry: staged and merged
    counts = (first.rows_read, first.inserted, first.updated, first.unchanged,
              first.deactivated, first.reactivated, first.rejected)
    assert counts == (7, 3, 3, 1, 2, 1, 0)
    staged = _dump(engine, CLINIC)
    doctor = find_provider(engine, CARDIOLOGIST)
    assert doctor is not None and doctor.credential == "MD"
    assert doctor.last_update_date == dt.date(2021, 8, 1)
    back = find_provider(engine, RETIRED)
    assert back is not None and back.active and back.last_name == "BACK"
    gone = find_provider(engine, NURSE_PRACTITIONER)
    assert gone is not None and not gone.active and gone.last_name == "NGUYEN"

    assert _import_over_one_other_npi(engine, write_nppes, path) == counts
    assert _dump(engine, CLINIC) == staged


def test_first_load_of_a_synthetic_file_matches_a_load_over_existing_rows(
    engine: Engine, write_nppes: NppesWriter, tmp_path: Path
) -> None:
    generated = generate_nppes_file(tmp_path / "synthetic.csv", 600, seed=11)
    first = import_nppes(engine, generated.path, batch_size=64)
    staged = _dump(engine, CLINIC)
    assert len(staged[0]) == first.inserted == generated.rows
    assert len(staged[1]) > generated.rows - generated.deactivated

    again = _import_over_one_other_npi(engine, write_nppes, generated.path)
    assert again == (generated.rows, generated.rows, 0, 0, generated.deactivated, 0, 0)
    assert _dump(engine, CLINIC) == staged


def test_an_interrupted_first_load_leaves_the_registry_empty(
    engine: Engine, tmp_path: Path
) -> None:
    generated = generate_nppes_file(tmp_path / "synthetic.csv", 300, seed=3)

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_nppes(engine, generated.path, progress=stop, batch_size=100)
    assert count(engine, Provider) == count(engine, Licence) == 0
    assert {"ix_registry_providers_practice_state", "ix_registry_licences_taxonomy_code"} <= (
        _index_names(engine)
    )

    assert import_nppes(engine, generated.path).inserted == generated.rows


def test_new_status_dates_count_as_an_update_even_when_the_status_stays(
    engine: Engine, write_nppes: NppesWriter
) -> None:
    import_nppes(engine, write_nppes("month.csv", first_month()))
    week = [
        # Deactivated and reactivated between two files: active as before, new dates.
        cardiologist(
            **{"NPI Deactivation Date": "01/05/2024", "NPI Reactivation Date": "01/20/2024"}
        ),
        # Still deactivated, with a corrected date.
        {"NPI": RETIRED, "NPI Deactivation Date": "10/01/2019"},
    ]
    result = import_nppes(engine, write_nppes("week.csv", week))

    assert (result.updated, result.unchanged) == (2, 0)
    assert (result.deactivated, result.reactivated) == (0, 0)
    doctor = find_provider(engine, CARDIOLOGIST)
    assert doctor is not None and doctor.active
    assert doctor.deactivation_date == dt.date(2024, 1, 5)
    retired = find_provider(engine, RETIRED)
    assert retired is not None and not retired.active
    assert retired.deactivation_date == dt.date(2019, 10, 1)


def test_an_interrupted_import_over_stored_rows_changes_nothing(
    engine: Engine, write_nppes: NppesWriter
) -> None:
    import_nppes(engine, write_nppes("month.csv", first_month()))
    rows = [
        {"NPI": NURSE_PRACTITIONER, "NPI Deactivation Date": "02/01/2024"},
        cardiologist(**{"Last Update Date": "02/03/2024"}),
    ]
    week = write_nppes("week.csv", rows)

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # stopped after staging the first row
        import_nppes(engine, week, progress=stop, batch_size=1)
    nurse = find_provider(engine, NURSE_PRACTITIONER)
    assert nurse is not None and nurse.active

    result = import_nppes(engine, week)
    assert (result.updated, result.deactivated) == (2, 1)


def test_a_load_gives_the_sqlite_wal_back(sqlite_engine: Engine, tmp_path: Path) -> None:
    with sqlite_engine.begin() as connection:
        for table in ("registry_licences", "registry_providers"):
            connection.execute(text(f"DELETE FROM {table}"))
    generated = generate_nppes_file(tmp_path / "synthetic.csv", 2_000, seed=2)
    import_nppes(sqlite_engine, generated.path)
    wal = Path(f"{sqlite_engine.url.database}-wal")
    assert wal.stat().st_size == 0
