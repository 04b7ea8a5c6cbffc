"""Set-based loading: stage the file's rows in file order, then merge them in NPI order.

::

    parsed rows ──append──> TEMP nppes_stage_providers, nppes_stage_licences
         (COPY on PostgreSQL, executemany on SQLite; no index: as cheap as a raw .import)
    empty registry:   INSERT INTO registry_providers SELECT … ORDER BY npi
                      INSERT INTO registry_licences  SELECT … ORDER BY npi, slot
    rows stored:      sort the staged rows into NPI order, classify them against the
                      stored rows in one ordered join (new / changed / unchanged),
                      upsert the new and changed ones, replace their licences
    a repeated NPI:   its first row is merged; the later rows are handed back in
                      file order for the caller to apply one at a time

NPIs arrive in random order. Written row by row, every batch touches pages all
over the NPI b-tree of a table of millions, so the cost per row grows with the
table (and every commit rewrites those pages). Staging appends; the database's
own sorter (bounded memory, spilling to temporary files) then turns the merge
into sequential b-tree work. Staging tables are TEMP: they live beside the
connection, never in the registry.

Counting follows the row-at-a-time rules of the importer: a row is unchanged
when the stored NPI has the same status and the same last-update,
deactivation and reactivation dates (a status-only row: the same status
dates), and status changes are counted against the stored status.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

PROVIDERS = "nppes_stage_providers"
LICENCES = "nppes_stage_licences"
SORTED = "nppes_stage_sorted"
LATER = "nppes_stage_later"
CHANGES = "nppes_stage_changes"
#: SQLite page cache (and so sorter run size) of the importing connection, in KiB.
SQLITE_CACHE_KIB = 65_536
#: Rows fetched per round trip when handing back the later rows of repeated NPIs.
REPLAY_CHUNK = 5_000

_DATE = "DATE"
_PROVIDER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("npi", "VARCHAR(10)"),
    ("entity_type", "SMALLINT"),
    ("organization_name", "TEXT"),
    ("last_name", "TEXT"),
    ("first_name", "TEXT"),
    ("middle_name", "TEXT"),
    ("name_prefix", "TEXT"),
    ("name_suffix", "TEXT"),
    ("credential", "TEXT"),
    ("sex", "TEXT"),
    ("practice_state", "TEXT"),
    ("practice_postal_code", "TEXT"),
    ("practice_fax", "TEXT"),
    ("enumeration_date", _DATE),
    ("last_update_date", _DATE),
    ("deactivation_date", _DATE),
    ("reactivation_date", _DATE),
    ("active", "BOOLEAN"),
)
_LICENCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("npi", "VARCHAR(10)"),
    ("slot", "SMALLINT"),
    ("taxonomy_code", "VARCHAR(10)"),
    ("licence_number", "TEXT"),
    ("licence_state", "TEXT"),
    ("is_primary", "BOOLEAN"),
)
PROVIDER_FIELDS = tuple(name for name, _ in _PROVIDER_COLUMNS)
LICENCE_FIELDS = tuple(name for name, _ in _LICENCE_COLUMNS)
#: What a status-only row (no entity type) writes over a stored NPI.
_STATUS_FIELDS = ("deactivation_date", "reactivation_date", "active")


@dataclass(frozen=True, slots=True)
class MergeCounts:
    """What a merge did with the first row of each staged NPI."""

    inserted: int
    updated: int
    unchanged: int
    deactivated: int
    reactivated: int
    #: Later rows of repeated NPIs, not merged: see :meth:`StagedLoad.later_rows`.
    later: int


class StagedLoad:
    """Staging tables on one connection, inside the caller's transaction.

    Rows are ``(line, *registry columns)`` in :data:`PROVIDER_FIELDS` /
    :data:`LICENCE_FIELDS` order, ``line`` being the record's line number.
    """

    def __init__(self, connection: Connection) -> None:
        self._cursor: Any = connection.connection.cursor()
        self._postgres = connection.dialect.name == "postgresql"
        self._same = "IS NOT DISTINCT FROM" if self._postgres else "IS"
        self._staged = 0
        self._inactive = 0
        self._later = 0
        if not self._postgres:
            # The sorter's run size follows the page cache; temporary files
            # keep the staging tables and sort runs out of memory.
            self._execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            self._execute("PRAGMA temp_store = FILE")
        for table, columns in ((PROVIDERS, _PROVIDER_COLUMNS), (LICENCES, _LICENCE_COLUMNS)):
            typed = ", ".join(f"{name} {kind}" for name, kind in columns)
            self._execute(f"CREATE TEMP TABLE {table} (line INTEGER NOT NULL, {typed})")

    def _execute(self, sql: str) -> None:
        self._cursor.execute(sql)

    def _count(self, sql: str) -> int:
        self._cursor.execute(sql)
        return int(self._cursor.fetchone()[0])

    def append(
        self, providers: Sequence[tuple[Any, ...]], licences: Sequence[tuple[Any, ...]]
    ) -> None:
        """Append staged rows in file order."""
        self._staged += len(providers)
        self._inactive += sum(1 for row in providers if not row[-1])
        for table, fields, rows in (
            (PROVIDERS, PROVIDER_FIELDS, providers),
            (LICENCES, LICENCE_FIELDS, licences),
        ):
            if not rows:
                continue
            columns = ", ".join(("line", *fields))
            if self._postgres:
                with self._cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * (len(fields) + 1))
                self._cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows
                )

    def merge_into_empty(self) -> MergeCounts:
        """Insert each NPI's first staged row and its licences into empty registry tables.

        The providers go in with ``ON CONFLICT DO NOTHING``: when fewer rows
        land than were staged, some NPI is repeated, and only then are the
        later rows found and set aside.
        """
        providers = ", ".join(PROVIDER_FIELDS)
        # "WHERE true" tells SQLite's parser the ON CONFLICT is the upsert's.
        self._cursor.execute(
            f"INSERT INTO registry_providers ({providers}) SELECT {providers} "
            f"FROM {PROVIDERS} WHERE true ORDER BY npi, line ON CONFLICT (npi) DO NOTHING"
        )
        only_first = ""
        if self._cursor.rowcount < self._staged:
            self._set_aside_later_rows()
            # ON CONFLICT DO NOTHING keeps whichever row came first in the
            # statement; the sort makes that the first line, but nothing in
            # SQL promises it, so the repeated NPIs are written again from
            # their first rows.
            repeated = f"SELECT npi FROM {LATER}"
            self._execute(f"DELETE FROM registry_providers WHERE npi IN ({repeated})")
            self._execute(
                f"INSERT INTO registry_providers ({providers}) SELECT {providers} "
                f"FROM {PROVIDERS} WHERE npi IN ({repeated}) "
                f"AND line NOT IN (SELECT line FROM {LATER})"
            )
            only_first = f"WHERE line NOT IN (SELECT line FROM {LATER}) "
        licences = ", ".join(LICENCE_FIELDS)
        self._execute(
            f"INSERT INTO registry_licences ({licences}) SELECT {licences} "
            f"FROM {LICENCES} {only_first}ORDER BY npi, slot"
        )
        later_inactive = 0
        if self._later:
            later_inactive = self._count(
                f"SELECT count(*) FROM {PROVIDERS} WHERE NOT active "
                f"AND line IN (SELECT line FROM {LATER})"
            )
        return MergeCounts(
            inserted=self._staged - self._later,
            updated=0,
            unchanged=0,
            deactivated=self._inactive - later_inactive,
            reactivated=0,
            later=self._later,
        )

    def merge_into_existing(self) -> MergeCounts:
        """Upsert each NPI's first staged row, writing only what is new or changed."""
        providers = ", ".join(PROVIDER_FIELDS)
        self._execute(
            f"CREATE TEMP TABLE {SORTED} AS SELECT line, {providers} FROM {PROVIDERS} "
            "ORDER BY npi, line"
        )
        self._execute(f"DROP TABLE {PROVIDERS}")
        self._execute(f"ALTER TABLE {SORTED} RENAME TO {PROVIDERS}")
        self._execute(f"CREATE INDEX {PROVIDERS}_npi ON {PROVIDERS} (npi, line)")
        self._set_aside_later_rows()
        same = self._same
        unchanged = (
            f"p.active = s.active AND p.deactivation_date {same} s.deactivation_date "
            f"AND p.reactivation_date {same} s.reactivation_date AND (s.entity_type IS NULL "
            f"OR p.last_update_date {same} s.last_update_date)"
        )
        # The staged rows are in NPI order, so the join walks the registry's
        # NPI index in order too.
        self._execute(
            f"CREATE TEMP TABLE {CHANGES} AS SELECT s.line AS line, s.npi AS npi, "
            "p.npi IS NULL AS is_new, p.active AS was_active, s.active AS active, "
            f"s.entity_type IS NULL AS status_only FROM {PROVIDERS} s "
            "LEFT JOIN registry_providers p ON p.npi = s.npi "
            f"WHERE s.line NOT IN (SELECT line FROM {LATER}) "
            f"AND (p.npi IS NULL OR NOT ({unchanged}))"
        )
        self._execute(f"CREATE INDEX {CHANGES}_line ON {CHANGES} (line)")
        counts = self._changes_counted()
        self._write_changes()
        return counts

    def _changes_counted(self) -> MergeCounts:
        tallies = ", ".join(
            f"coalesce(sum(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)"
            for condition in (
                "is_new",
                "NOT active AND (is_new OR was_active)",
                "active AND NOT is_new AND NOT was_active",
            )
        )
        self._cursor.execute(f"SELECT count(*), {tallies} FROM {CHANGES}")
        changed, inserted, deactivated, reactivated = (int(v) for v in self._cursor.fetchone())
        return MergeCounts(
            inserted=inserted,
            updated=changed - inserted,
            unchanged=self._staged - self._later - changed,
            deactivated=deactivated,
            reactivated=reactivated,
            later=self._later,
        )

    def _write_changes(self) -> None:
        """Upsert the new and changed rows, then replace the licences of the full rows."""
        full = ", ".join(PROVIDER_FIELDS)
        status = ", ".join(("npi", *_STATUS_FIELDS))
        for fields, columns, kind in (
            (PROVIDER_FIELDS, full, "NOT c.status_only"),
            (("npi", *_STATUS_FIELDS), status, "c.status_only"),
        ):
            updates = ", ".join(f"{name} = excluded.{name}" for name in fields[1:])
            picked = ", ".join(f"s.{name}" for name in fields)
            self._execute(
                f"INSERT INTO registry_providers ({columns}) SELECT {picked} "
                f"FROM {PROVIDERS} s JOIN {CHANGES} c ON c.line = s.line WHERE {kind} "
                f"ORDER BY s.npi ON CONFLICT (npi) DO UPDATE SET {updates}"
            )
        self._execute(
            "DELETE FROM registry_licences WHERE npi IN "
            f"(SELECT npi FROM {CHANGES} WHERE NOT is_new AND NOT status_only)"
        )
        licences = ", ".join(LICENCE_FIELDS)
        self._execute(
            f"INSERT INTO registry_licences ({licences}) SELECT {licences} FROM {LICENCES} "
            f"WHERE line IN (SELECT line FROM {CHANGES} WHERE NOT status_only) "
            "ORDER BY npi, slot"
        )

    def _set_aside_later_rows(self) -> None:
        """Record which staged rows repeat an NPI staged on an earlier line."""
        self._execute(f"CREATE INDEX IF NOT EXISTS {PROVIDERS}_npi ON {PROVIDERS} (npi, line)")
        self._execute(f"CREATE TEMP TABLE {LATER} (line INTEGER PRIMARY KEY, npi VARCHAR(10))")
        self._execute(
            f"INSERT INTO {LATER} (line, npi) SELECT line, npi FROM (SELECT line, npi, "
            f"row_number() OVER (PARTITION BY npi ORDER BY line) AS nth FROM {PROVIDERS}) r "
            "WHERE nth > 1"
        )
        self._later = self._count(f"SELECT count(*) FROM {LATER}")

    def later_rows(self) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
        """The later rows of repeated NPIs in file order, each with its licence rows."""
        if not self._later:
            return
        self._execute(f"CREATE INDEX {PROVIDERS}_line ON {PROVIDERS} (line)")
        self._execute(f"CREATE INDEX {LICENCES}_line ON {LICENCES} (line)")
        providers = ", ".join(f"s.{name}" for name in ("line", *PROVIDER_FIELDS))
        licences = ", ".join(("line", *LICENCE_FIELDS))
        after = 0
        while True:
            self._cursor.execute(
                f"SELECT {providers} FROM {LATER} l JOIN {PROVIDERS} s ON s.line = l.line "
                f"WHERE l.line > {after} ORDER BY l.line LIMIT {REPLAY_CHUNK}"
            )
            chunk = self._cursor.fetchall()
            if not chunk:
                return
            first, after = chunk[0][0], chunk[-1][0]
            self._cursor.execute(
                f"SELECT {licences} FROM {LICENCES} WHERE line IN "
                f"(SELECT line FROM {LATER} WHERE line BETWEEN {first} AND {after}) "
                "ORDER BY line, slot"
            )
            by_line: dict[int, list[tuple[Any, ...]]] = {}
            for licence in self._cursor.fetchall():
                by_line.setdefault(licence[0], []).append(tuple(licence[1:]))
            for row in chunk:
                yield tuple(row[1:]), by_line.get(row[0], [])

    def close(self) -> None:
        """Drop the staging tables (their space returns at once, not at disconnect)."""
        for table in (CHANGES, LATER, LICENCES, PROVIDERS):
            self._execute(f"DROP TABLE IF EXISTS {table}")
        self._cursor.close()
