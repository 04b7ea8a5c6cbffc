"""The synthetic generator writes the real format, deterministically."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

from bots.gatekeeper.registry.npi import validate_npi
from bots.gatekeeper.registry.nppes_format import HEADER
from bots.gatekeeper.registry.synthetic import generate_nppes_file

DEACTIVATION = HEADER.index("NPI Deactivation Date")
REACTIVATION = HEADER.index("NPI Reactivation Date")


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%m/%d/%Y").date()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_has_official_header_and_valid_rows(tmp_path: Path) -> None:
    summary = generate_nppes_file(tmp_path / "npidata.csv", 3_000, seed=11)
    with open(summary.path, encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert tuple(rows[0]) == HEADER
    data = rows[1:]
    assert len(data) == summary.rows == 3_000
    assert {len(row) for row in data} == {330}
    npis = [row[0] for row in data]
    assert len(set(npis)) == len(npis)
    assert all(validate_npi(npi).ok for npi in npis)

    deactivated = [row for row in data if not row[1]]
    assert len(deactivated) == summary.deactivated > 0
    for row in deactivated:  # as CMS publishes them: NPI and deactivation date only
        assert [i for i, value in enumerate(row) if value] == [0, DEACTIVATION]
    organisations = [row for row in data if row[1] == "2"]
    assert len(organisations) == summary.organisations > 0
    reactivated = [row for row in data if row[1] and row[REACTIVATION]]
    assert len(reactivated) == summary.reactivated > 0
    for row in reactivated:
        assert _date(row[REACTIVATION]) > _date(row[DEACTIVATION])
    individuals = [row for row in data if row[1] == "1"]
    assert all(row[47] and row[48] and row[49] and row[50] == "Y" for row in individuals)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = generate_nppes_file(tmp_path / "a.csv", 500, seed=3).path
    again = generate_nppes_file(tmp_path / "b.csv", 500, seed=3).path
    other = generate_nppes_file(tmp_path / "c.csv", 500, seed=4).path
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)


def test_progress_reaches_the_total(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    generate_nppes_file(tmp_path / "p.csv", 45_000, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (45_000, 45_000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
