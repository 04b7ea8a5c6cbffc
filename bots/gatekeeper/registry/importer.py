"""Stream an NPPES dissemination file into the registry tables.

::

    npidata_pfile.csv ──csv.reader──> parse row ──> batch (≤ batch_size NPIs)
                                          │ bad NPI / date  │
                                          ▼                 ▼ one transaction per batch
                                      rejection      SELECT stored state of the batch's NPIs
                                                     upsert providers  (ON CONFLICT (npi))
                                                     replace licences of changed NPIs

The monthly file (~9 million rows, 330 columns, several GB) and the weekly
incremental files share one format, so one importer serves both. Memory is
bounded by the batch: the file is read as a stream and nothing else is kept.
Batches go through the raw DB-API cursor's ``executemany``: the ORM's
per-object bookkeeping would cost more than the database work itself.

Re-importing is idempotent: a row whose last-update, deactivation and
reactivation dates equal what is stored is counted as unchanged and not
written. NPPES publishes a deactivated NPI with nothing but the NPI and its
deactivation date, so such a row only updates the NPI's status and dates; the
names and licences already stored are kept, so a bot can still say *whose*
NPI was deactivated. A later row with a reactivation date on or after the
deactivation date makes the NPI active again.

Each batch commits on its own, so an interrupted import leaves whole batches
behind and re-running the same file completes it. Into an empty registry (the
first monthly load) the secondary indexes are built once at the end instead of
being maintained row by row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, select

from bots.gatekeeper.registry import nppes_format as fmt
from bots.gatekeeper.registry.models import Licence, Provider
from bots.gatekeeper.registry.npi import is_valid_npi, validate_npi

#: Called as ``progress(bytes_read, bytes_total)`` after every batch.
ProgressCallback = Callable[[int, int], None]

DEFAULT_BATCH_SIZE = 10_000
TAXONOMY_CODE_LENGTH = 10
_DATE_CACHE_SIZE = 50_000
#: SQLite page cache for the importing connection, in KiB (within the RSS budget).
SQLITE_CACHE_KIB = 65_536
#: How many rejections are kept with their reasons; the count is always exact.
MAX_REJECTION_SAMPLES = 1_000

_PROVIDER_FIELDS = (
    "npi",
    "entity_type",
    "organization_name",
    "last_name",
    "first_name",
    "middle_name",
    "name_prefix",
    "name_suffix",
    "credential",
    "sex",
    "practice_state",
    "practice_postal_code",
    "enumeration_date",
    "last_update_date",
    "deactivation_date",
    "reactivation_date",
    "active",
)
_DATE_FIELDS = ("enumeration_date", "last_update_date", "deactivation_date", "reactivation_date")
_LICENCE_FIELDS = ("npi", "slot", "taxonomy_code", "licence_number", "licence_state", "is_primary")
_DEACTIVATION_FIELDS = ("npi", "deactivation_date", "reactivation_date", "active")


class NppesFormatError(ValueError):
    """The file is not an NPPES data file (its header lacks a needed column)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that was not imported, with the reason (NPPES data is public)."""

    line: int
    npi: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did.

    ``inserted``, ``updated``, ``unchanged`` and ``rejected`` add up to
    ``rows_read``. ``deactivated`` and ``reactivated`` count status changes
    among the written rows: an NPI that becomes (or first appears) deactivated,
    and a stored deactivated NPI that becomes active again.
    """

    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    deactivated: int
    reactivated: int
    rejected: int
    rejections: tuple[Rejection, ...]


@dataclass(slots=True)
class _Counters:
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    reactivated: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def reject(self, line: int, npi: str, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTION_SAMPLES:
            self.rejections.append(Rejection(line, npi, reason))

    def result(self) -> ImportResult:
        return ImportResult(
            self.rows_read,
            self.inserted,
            self.updated,
            self.unchanged,
            self.deactivated,
            self.reactivated,
            self.rejected,
            tuple(self.rejections),
        )


class _BadRow(ValueError):
    """A row that cannot be imported; the message is the rejection reason."""


def _iso_date(value: str, column: str) -> str:
    """MM/DD/YYYY -> YYYY-MM-DD (ISO strings compare in date order).

    The result is checked as a real calendar date: PostgreSQL would otherwise
    refuse it and abort the whole batch.
    """
    iso = f"{value[6:10]}-{value[0:2]}-{value[3:5]}"
    try:
        if len(value) != 10 or value[2] != "/" or value[5] != "/":
            raise ValueError(value)
        dt.date.fromisoformat(iso)
    except ValueError:
        raise _BadRow(f"{column} {value!r} is not a MM/DD/YYYY date") from None
    return iso


def _is_active(deactivated: str | None, reactivated: str | None) -> bool:
    return deactivated is None or (reactivated is not None and reactivated >= deactivated)


@dataclass(frozen=True, slots=True)
class _Parsed:
    """One data row turned into database rows (``licences`` empty when ``status_only``)."""

    npi: str
    provider: tuple[Any, ...]
    licences: tuple[tuple[Any, ...], ...]
    status_only: bool
    #: Last update, deactivation and reactivation date: what marks a change.
    dates: tuple[str | None, str | None, str | None]
    active: bool


class _RowParser:
    """Maps a data row to database rows using the column positions of the header."""

    def __init__(self, header: Sequence[str]) -> None:
        names = [name.lstrip("\ufeff").strip() for name in header]
        position = {name: index for index, name in enumerate(names)}
        sex_column = next((c for c in fmt.SEX_COLUMN_ALIASES if c in position), fmt.SEX_COLUMN)
        columns = dict(fmt.PROVIDER_COLUMNS, sex=sex_column)
        slot_columns = [
            maker(slot)
            for slot in range(1, fmt.TAXONOMY_SLOTS + 1)
            for maker in (
                fmt.taxonomy_code_column,
                fmt.licence_number_column,
                fmt.licence_state_column,
                fmt.primary_switch_column,
            )
        ]
        missing = [c for c in [*columns.values(), *slot_columns] if c not in position]
        if missing:
            raise NppesFormatError(
                f"not an NPPES data file: the header lacks {missing[0]!r}"
                + (f" and {len(missing) - 1} more columns" if len(missing) > 1 else "")
            )
        order = [f for f in _PROVIDER_FIELDS if f != "active"]
        self._fields = itemgetter(*(position[columns[f]] for f in order))
        self._slots = itemgetter(*(position[c] for c in slot_columns))
        self._width = len(names)
        # A file spans a few thousand distinct dates; converting each once
        # saves four conversions per row.
        self._dates: dict[str, str] = {}

    def parse(self, row: list[str]) -> _Parsed:
        if len(row) < self._width:
            raise _BadRow(f"row has {len(row)} columns, the header {self._width}")
        values = list(self._fields(row))
        npi = values[0]
        if not is_valid_npi(npi):
            raise _BadRow(validate_npi(npi).reason)
        known = self._dates
        for offset, name in enumerate(_DATE_FIELDS, start=12):
            value = values[offset]
            iso = known.get(value)
            if iso is None and value:
                iso = _iso_date(value, name)
                if len(known) < _DATE_CACHE_SIZE:
                    known[value] = iso
            values[offset] = iso
        deactivated, reactivated = values[14], values[15]
        entity = values[1]
        if not entity:
            if deactivated is None:
                raise _BadRow("no entity type and no deactivation date")
            active = _is_active(deactivated, reactivated)
            status = (npi, deactivated, reactivated, active)
            return _Parsed(npi, status, (), True, (None, deactivated, reactivated), active)
        if entity not in ("1", "2"):
            raise _BadRow(f"entity type {entity!r} is neither 1 nor 2")
        values[1] = int(entity)
        for index in range(2, 12):
            if not values[index]:
                values[index] = None
        active = _is_active(deactivated, reactivated)
        values.append(active)
        slots = self._slots(row)
        licences = tuple(
            (
                npi,
                slot // 4 + 1,
                slots[slot],
                slots[slot + 1] or None,
                slots[slot + 2] or None,
                slots[slot + 3] == fmt.PRIMARY_YES,
            )
            for slot in range(0, 4 * fmt.TAXONOMY_SLOTS, 4)
            if slots[slot]
        )
        for licence in licences:
            if len(licence[2]) > TAXONOMY_CODE_LENGTH:
                raise _BadRow(f"taxonomy code {licence[2]!r} is longer than 10 characters")
        dates = (values[13], deactivated, reactivated)
        return _Parsed(npi, tuple(values), licences, False, dates, active)


class _Writer:
    """Writes one batch per transaction through the raw DB-API cursor.

    Rows are written in NPI order so consecutive inserts land on neighbouring
    b-tree pages; NPIs the batch's SELECT found absent take a plain INSERT,
    the rest the upsert. On SQLite the page cache is raised for the import
    connection: with the default 2 MB, random-key inserts into a table of
    millions of rows spend most of their time re-reading pages.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._mark = mark
        self._insert = _insert_sql("registry_providers", _PROVIDER_FIELDS, mark)
        self._upsert = _upsert_sql("registry_providers", _PROVIDER_FIELDS, mark)
        self._status = _upsert_sql("registry_providers", _DEACTIVATION_FIELDS, mark)
        self._licence = _insert_sql("registry_licences", _LICENCE_FIELDS, mark)

    def write(self, batch: dict[str, _Parsed], counters: _Counters) -> None:
        with self._engine.begin() as connection:
            cursor = connection.connection.cursor()
            try:
                if self._sqlite:
                    cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
                stored = self._stored_state(cursor, list(batch))
                new: list[tuple[Any, ...]] = []
                changed: list[tuple[Any, ...]] = []
                status: list[tuple[Any, ...]] = []
                licences: list[tuple[Any, ...]] = []
                replaced: list[str] = []
                for npi, parsed in sorted(batch.items()):
                    before = stored.get(npi)
                    if before is not None and _unchanged(before, parsed):
                        counters.unchanged += 1
                        continue
                    _count(counters, before, parsed)
                    if parsed.status_only:
                        status.append(parsed.provider)
                        continue
                    licences.extend(parsed.licences)
                    if before is None:
                        new.append(parsed.provider)
                    else:
                        changed.append(parsed.provider)
                        replaced.append(npi)
                if new:
                    cursor.executemany(self._insert, new)
                if changed:
                    cursor.executemany(self._upsert, changed)
                if status:
                    cursor.executemany(self._status, status)
                if replaced:
                    cursor.execute(
                        "DELETE FROM registry_licences WHERE npi IN "
                        f"({', '.join([self._mark] * len(replaced))})",
                        replaced,
                    )
                if licences:
                    cursor.executemany(self._licence, licences)
            finally:
                cursor.close()

    def _stored_state(
        self, cursor: Any, npis: list[str]
    ) -> dict[str, tuple[tuple[str | None, ...], bool]]:
        cursor.execute(
            "SELECT npi, last_update_date, deactivation_date, reactivation_date, active "
            "FROM registry_providers WHERE npi IN "
            f"({', '.join([self._mark] * len(npis))})",
            npis,
        )
        return {
            npi: (tuple(None if d is None else str(d) for d in dates), bool(active))
            for npi, *dates, active in cursor.fetchall()
        }


def _insert_sql(table: str, columns: Sequence[str], mark: str) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})"
    )


def _upsert_sql(table: str, columns: Sequence[str], mark: str) -> str:
    """Insert, or update every column but the first (the key) when the key exists."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    return f"{_insert_sql(table, columns, mark)} ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}"


def _unchanged(before: tuple[tuple[str | None, ...], bool], parsed: _Parsed) -> bool:
    dates, active = before
    if active != parsed.active:
        return False
    if parsed.status_only:
        return dates[1:] == parsed.dates[1:]
    return dates == parsed.dates


def _count(
    counters: _Counters, before: tuple[tuple[str | None, ...], bool] | None, parsed: _Parsed
) -> None:
    if before is None:
        counters.inserted += 1
        if not parsed.active:
            counters.deactivated += 1
        return
    counters.updated += 1
    was_active = before[1]
    if was_active and not parsed.active:
        counters.deactivated += 1
    elif not was_active and parsed.active:
        counters.reactivated += 1


def _table(model: type[Provider] | type[Licence]) -> Table:
    return cast(Table, model.__table__)


@contextmanager
def _secondary_indexes_deferred(engine: Engine) -> Iterator[None]:
    """Into an empty registry, load first and build the secondary indexes after.

    Building an index once over sorted keys is far cheaper than keeping it up
    to date through millions of random inserts. The indexes are rebuilt even
    when the import fails, and re-created on the next import should a crash
    have left them missing, so the schema always returns to what the
    migrations made.
    """
    indexes = [index for model in (Provider, Licence) for index in _table(model).indexes]
    with engine.begin() as connection:
        empty = connection.execute(select(Provider.npi).limit(1)).first() is None
        for index in indexes:
            if empty:
                index.drop(connection, checkfirst=True)
            else:
                index.create(connection, checkfirst=True)
    try:
        yield
    finally:
        if empty:
            with engine.begin() as connection:
                for index in indexes:
                    index.create(connection, checkfirst=True)


def import_nppes(
    engine: Engine,
    path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ImportResult:
    """Import a monthly or weekly NPPES data file; see the module docstring."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    total = Path(path).stat().st_size
    counters = _Counters()
    writer = _Writer(engine)
    with open(path, "rb") as binary, _secondary_indexes_deferred(engine):
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")
        rows = csv.reader(text, dialect="excel", strict=False)
        header = next(rows, None)
        if header is None:
            raise NppesFormatError("the file is empty: an NPPES data file starts with a header")
        parser = _RowParser(header)
        batch: dict[str, _Parsed] = {}

        def flush() -> None:
            if batch:
                writer.write(batch, counters)
                batch.clear()
            if progress is not None:
                progress(binary.tell(), total)

        for line, row in enumerate(rows, start=2):
            counters.rows_read += 1
            try:
                parsed = parser.parse(row)
            except _BadRow as bad:
                counters.reject(line, row[0] if row else "", str(bad))
                continue
            if parsed.npi in batch:
                # A file repeating an NPI: write the earlier row first so
                # every row is counted against the state it really changes.
                flush()
            batch[parsed.npi] = parsed
            if len(batch) >= batch_size:
                flush()
        flush()
    return counters.result()
