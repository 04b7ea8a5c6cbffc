"""Operator commands behind ``curbside registry ...``, with rich progress bars.

The ``curbside`` CLI module wires these into click; they take plain values so
they can be called from anywhere (and tested) without click.

    curbside registry generate OUT.csv --rows N --seed S   -> generate_command
    curbside registry import npidata_pfile_*.csv            -> import_command
    curbside registry taxonomy nucc_taxonomy_*.csv          -> taxonomy_command
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from sqlalchemy import Engine

from bots.gatekeeper.registry.importer import ImportResult, import_nppes
from bots.gatekeeper.registry.synthetic import GeneratedFile, generate_nppes_file
from bots.gatekeeper.specialties import load_taxonomy

#: Rejections listed after an import; the rest are summed up.
SHOWN_REJECTIONS = 10


def generate_command(
    output: str | os.PathLike[str], rows: int, seed: int = 0, console: Console | None = None
) -> GeneratedFile:
    """Write a synthetic NPPES file of ``rows`` rows, showing progress and a summary."""
    console = console or Console()
    columns = (TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("generate", total=rows)
        generated = generate_nppes_file(
            output,
            rows,
            seed=seed,
            progress=lambda done, _total: progress.update(task, completed=done),
        )
    console.print(
        f"wrote {generated.rows:,} rows ({generated.organisations:,} organisations, "
        f"{generated.deactivated:,} deactivated, {generated.reactivated:,} reactivated) "
        f"to {Path(output)} ({generated.bytes_written / 1e6:,.0f} MB)"
    )
    return generated


def import_command(
    engine: Engine, path: str | os.PathLike[str], console: Console | None = None
) -> ImportResult:
    """Import an NPPES data file with a byte-driven progress bar (ETA), then summarise."""
    console = console or Console()
    columns = (
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("import", total=Path(path).stat().st_size)
        result = import_nppes(
            engine,
            path,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(
        f"read {result.rows_read:,} rows: {result.inserted:,} new, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged, {result.deactivated:,} deactivated, "
        f"{result.reactivated:,} reactivated, {result.rejected:,} rejected"
    )
    for rejection in result.rejections[:SHOWN_REJECTIONS]:
        console.print(f"  line {rejection.line}: NPI {rejection.npi!r}: {rejection.reason}")
    if result.rejected > SHOWN_REJECTIONS:
        console.print(f"  ... and {result.rejected - SHOWN_REJECTIONS:,} more")
    return result


def taxonomy_command(
    engine: Engine, path: str | os.PathLike[str], console: Console | None = None
) -> int:
    """Load the NUCC taxonomy code set, rename stored specialties, report both counts."""
    count, renamed = load_taxonomy(engine, path)
    (console or Console()).print(
        f"stored {count:,} NUCC taxonomy codes; {renamed:,} credential(s) and request(s) "
        "now show the new specialty names")
    return count
