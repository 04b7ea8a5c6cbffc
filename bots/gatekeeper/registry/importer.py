"""Stream an NPPES dissemination file into the registry tables.

::

    npidata_pfile.csv ──read_records──> parse row ──> stage in file order (TEMP tables)
        (only the columns we use)        │              │ one transaction
                                         ▼              ▼
                                     rejection      merge in NPI order (bulk_load.py):
                                  (bad NPI / date)   empty registry: plain sorted inserts,
                                                       secondary indexes built after
                                                     rows stored: upsert what is new or
                                                       changed, replace its licences
                                                     later rows of a repeated NPI: applied
                                                       one at a time, in file order

The monthly file (~9 million rows, 330 columns, several GB) and the weekly
incremental files share one format, so one importer serves both. Python's
memory is bounded by the batch: the file is read as a stream, rows are
staged batch by batch, and the database sorts with bounded memory. Rows go
through the raw DB-API cursor (``executemany``, or ``COPY`` on PostgreSQL):
the ORM's per-object bookkeeping would cost more than the database work.

Re-importing is idempotent: a row whose last-update, deactivation and
reactivation dates equal what is stored is counted as unchanged and not
written. NPPES publishes a deactivated NPI with nothing but the NPI and its
deactivation date, so such a row only updates the NPI's status and dates; the
names and licences already stored are kept, so a bot can still say *whose*
NPI was deactivated. A later row with a reactivation date on or after the
deactivation date makes the NPI active again. A file repeating an NPI has each
row counted against the state the rows before it left.

The import is one transaction: interrupted, it changes nothing, and running
it again starts afresh.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Index, Table, select

from bots.gatekeeper.registry import nppes_format as fmt
from bots.gatekeeper.registry.bulk_load import LICENCE_FIELDS, PROVIDER_FIELDS, StagedLoad
from bots.gatekeeper.registry.models import Licence, Provider
from bots.gatekeeper.registry.npi import is_valid_npi, validate_npi
from bots.gatekeeper.registry.nppes_reader import read_header, read_records

#: Called as ``progress(bytes_read, bytes_total)`` after every batch.
ProgressCallback = Callable[[int, int], None]

DEFAULT_BATCH_SIZE = 10_000
TAXONOMY_CODE_LENGTH = 10
_DATE_CACHE_SIZE = 50_000
#: How many rejections are kept with their reasons; the count is always exact.
MAX_REJECTION_SAMPLES = 1_000

_DATE_FIELDS = ("enumeration_date", "last_update_date", "deactivation_date", "reactivation_date")
_DEACTIVATION_FIELDS = ("npi", "deactivation_date", "reactivation_date", "active")
#: A status-only row's empty columns between the NPI and the deactivation date.
_NO_DETAILS = (None,) * (PROVIDER_FIELDS.index("deactivation_date") - 1)
#: Positions in a parsed provider row (PROVIDER_FIELDS without ``active``).
_FIRST_DATE = PROVIDER_FIELDS.index("enumeration_date")
_LAST_UPDATE = PROVIDER_FIELDS.index("last_update_date")
_DEACTIVATED = PROVIDER_FIELDS.index("deactivation_date")
_REACTIVATED = PROVIDER_FIELDS.index("reactivation_date")


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
        order = [f for f in PROVIDER_FIELDS if f != "active"]
        field_positions = [position[columns[f]] for f in order]
        slot_positions = [position[c] for c in slot_columns]
        self._fields = itemgetter(*field_positions)
        self._slots = itemgetter(*slot_positions)
        #: Columns in the header, and how many leading columns parsing reads.
        self.width = len(names)
        self.keep = max(field_positions + slot_positions) + 1
        # A file spans a few thousand distinct dates; converting each once
        # saves four conversions per row.
        self._dates: dict[str, str] = {}

    def parse(self, row: list[str]) -> _Parsed:
        """Parse a record of the header's width (only its first ``keep`` values are read)."""
        values = list(self._fields(row))
        npi = values[0]
        if not is_valid_npi(npi):
            raise _BadRow(validate_npi(npi).reason)
        known = self._dates
        for offset, name in enumerate(_DATE_FIELDS, start=_FIRST_DATE):
            value = values[offset]
            iso = known.get(value)
            if iso is None and value:
                iso = _iso_date(value, name)
                if len(known) < _DATE_CACHE_SIZE:
                    known[value] = iso
            values[offset] = iso
        deactivated, reactivated = values[_DEACTIVATED], values[_REACTIVATED]
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
        for index in range(2, _FIRST_DATE):  # free text: empty is unknown
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
        dates = (values[_LAST_UPDATE], deactivated, reactivated)
        return _Parsed(npi, tuple(values), licences, False, dates, active)


class _Writer:
    """Applies a batch of distinct NPIs row by row against their stored state.

    This is for the later rows of an NPI the file repeats, which the
    set-based merge leaves behind: each must see what the row before it
    wrote. Rows are written in NPI order through the raw DB-API cursor of the
    caller's connection; NPIs the batch's SELECT found absent take a plain
    INSERT, the rest the upsert.
    """

    def __init__(self, engine: Engine) -> None:
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._mark = mark
        self._insert = _insert_sql("registry_providers", PROVIDER_FIELDS, mark)
        self._upsert = _upsert_sql("registry_providers", PROVIDER_FIELDS, mark)
        self._status = _upsert_sql("registry_providers", _DEACTIVATION_FIELDS, mark)
        self._licence = _insert_sql("registry_licences", LICENCE_FIELDS, mark)

    def write(self, connection: Connection, batch: dict[str, _Parsed], counters: _Counters) -> None:
        cursor = connection.connection.cursor()
        try:
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


def _secondary_indexes() -> list[Index]:
    return [index for model in (Provider, Licence) for index in _table(model).indexes]


def _registry_is_empty(engine: Engine) -> bool:
    with engine.connect() as connection:
        return connection.execute(select(Provider.npi).limit(1)).first() is None


@contextmanager
def _secondary_indexes_deferred(engine: Engine) -> Iterator[None]:
    """Load first and build the secondary indexes after.

    Building an index once over sorted keys is far cheaper than keeping it up
    to date through millions of inserts. The indexes are rebuilt even when
    the import fails, and re-created by the next import should a crash have
    left them missing, so the schema always returns to what the migrations
    made.
    """
    with engine.begin() as connection:
        for index in _secondary_indexes():
            index.drop(connection, checkfirst=True)
    try:
        yield
    finally:
        _repair_secondary_indexes(engine)


def _repair_secondary_indexes(engine: Engine) -> None:
    with engine.begin() as connection:
        for index in _secondary_indexes():
            index.create(connection, checkfirst=True)


def _parsed_rows(
    records: Iterator[tuple[list[str], int]], parser: _RowParser, counters: _Counters
) -> Iterator[tuple[int, _Parsed]]:
    """Parse records in file order, counting every row and rejecting the bad ones."""
    width = parser.width
    for line, (values, columns) in enumerate(records, start=2):
        counters.rows_read += 1
        try:
            if columns < width:
                raise _BadRow(f"row has {columns} columns, the header {width}")
            yield line, parser.parse(values)
        except _BadRow as bad:
            counters.reject(line, values[0] if values else "", str(bad))


def _stage_row(line: int, parsed: _Parsed) -> tuple[Any, ...]:
    """The staged provider row: a status-only row leaves every other column empty."""
    if parsed.status_only:
        return (line, parsed.npi, *_NO_DETAILS, *parsed.provider[1:])
    return (line, *parsed.provider)


def _from_stage(provider: tuple[Any, ...], licences: list[tuple[Any, ...]]) -> _Parsed:
    """Rebuild a parsed row from its staged rows (a later row of a repeated NPI)."""
    row = tuple(str(v) if isinstance(v, dt.date) else v for v in provider)
    *_, last_update, deactivated, reactivated, active = row
    active = bool(active)
    if row[1] is None:
        status = (row[0], deactivated, reactivated, active)
        return _Parsed(row[0], status, (), True, (None, deactivated, reactivated), active)
    full = (*row[:-1], active)
    kept = tuple((*lic[:-1], bool(lic[-1])) for lic in licences)
    return _Parsed(row[0], full, kept, False, (last_update, deactivated, reactivated), active)


def _load_staged(
    engine: Engine,
    rows: Iterator[tuple[int, _Parsed]],
    counters: _Counters,
    *,
    empty: bool,
    batch_size: int,
    report: Callable[[], None],
) -> None:
    """Stage every row, merge set-based (see :mod:`bulk_load`), in one transaction.

    An interrupted import changes nothing, and running it again starts afresh.
    """
    with engine.begin() as connection:
        try:
            _stage_and_merge(engine, connection, rows, counters, empty, batch_size, report)
        except BaseException:
            # SQLite creates the TEMP staging tables outside the transaction
            # being rolled back; discarding the connection discards them too.
            connection.invalidate()
            raise
    report()


def _stage_and_merge(
    engine: Engine,
    connection: Connection,
    rows: Iterator[tuple[int, _Parsed]],
    counters: _Counters,
    empty: bool,
    batch_size: int,
    report: Callable[[], None],
) -> None:
    """Stage every row, merge the first row of each NPI, then apply the later rows."""
    stage = StagedLoad(connection)
    providers: list[tuple[Any, ...]] = []
    licences: list[tuple[Any, ...]] = []
    for line, parsed in rows:
        providers.append(_stage_row(line, parsed))
        for licence in parsed.licences:
            licences.append((line, *licence))
        if len(providers) >= batch_size:
            stage.append(providers, licences)
            providers.clear()
            licences.clear()
            report()
    stage.append(providers, licences)
    merged = stage.merge_into_empty() if empty else stage.merge_into_existing()
    counters.inserted += merged.inserted
    counters.updated += merged.updated
    counters.unchanged += merged.unchanged
    counters.deactivated += merged.deactivated
    counters.reactivated += merged.reactivated
    if merged.later:
        later = (_from_stage(*row) for row in stage.later_rows())
        _apply_later_rows(engine, connection, later, counters, batch_size)
    stage.close()


def _apply_later_rows(
    engine: Engine,
    connection: Connection,
    rows: Iterator[_Parsed],
    counters: _Counters,
    batch_size: int,
) -> None:
    """Apply the later rows of repeated NPIs in file order, in batches of distinct NPIs.

    A batch ends where an NPI repeats, so every row is counted against the
    state the rows before it left.
    """
    writer = _Writer(engine)
    batch: dict[str, _Parsed] = {}
    for parsed in rows:
        if parsed.npi in batch or len(batch) >= batch_size:
            writer.write(connection, batch, counters)
            batch.clear()
        batch[parsed.npi] = parsed
    if batch:
        writer.write(connection, batch, counters)


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
    with open(path, "rb") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")
        header = read_header(text)
        if header is None:
            raise NppesFormatError("the file is empty: an NPPES data file starts with a header")
        parser = _RowParser(header)
        rows = _parsed_rows(read_records(text, parser.width, parser.keep), parser, counters)

        def report() -> None:
            if progress is not None:
                progress(binary.tell(), total)

        if _registry_is_empty(engine):
            with _secondary_indexes_deferred(engine):
                _load_staged(
                    engine, rows, counters, empty=True, batch_size=batch_size, report=report
                )
        else:
            _repair_secondary_indexes(engine)
            _load_staged(engine, rows, counters, empty=False, batch_size=batch_size, report=report)
    _truncate_sqlite_wal(engine)
    return counters.result()


def _truncate_sqlite_wal(engine: Engine) -> None:
    """Give back the disk the import's one big transaction took in SQLite's WAL file.

    Without a truncating checkpoint the WAL keeps its largest size (about the
    size of the registry after a first load). Should a reader hold an old
    snapshot, the checkpoint waits at most the busy timeout and leaves the
    file for a later checkpoint.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
