"""Benchmark: our NPPES importer against the sqlite3 shell's ``.import``.

Claim under test: importing the monthly NPPES file (9 million rows, 330
columns) with :func:`bots.gatekeeper.registry.import_nppes` into SQLite takes
at most 1.5x as long as the sqlite3 shell's ``.import`` of the same file into a
bare table, with a peak RSS of at most 300 MB, and NPI lookups stay fast.

    python benchmarks/nppes_import.py                  # the full 9,000,000 rows
    python benchmarks/nppes_import.py --rows 500000    # a quicker run
    python benchmarks/nppes_import.py --reimport       # also time a second import

``--reimport`` imports the same file again over the loaded registry (the path
a monthly file takes over last month's registry; every row is unchanged).

The file is synthetic (:mod:`bots.gatekeeper.registry.synthetic`) in the exact
dissemination format. Our importer runs in a child process and is the first
child this script starts, so ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is its
peak RSS. Needs the ``sqlite3`` shell (Debian package ``sqlite3``).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

#: Disk the run needs per row: the CSV (~1.2 kB), our database and the bare one.
BYTES_PER_ROW = 2_400
RATIO_TARGET = 1.5
RSS_TARGET_MB = 300


def child_import(database: Path, csv_path: Path, reimport: bool) -> None:
    """Run in the child: migrate a fresh database, import (twice with ``reimport``), print JSON."""
    from bots.gatekeeper.registry import MIGRATIONS, import_nppes
    from curbside.database import make_engine, migrate

    engine = make_engine(f"sqlite:///{database}")
    migrate(engine, [MIGRATIONS])
    started = time.perf_counter()
    result = import_nppes(engine, csv_path)
    seconds = time.perf_counter() - started
    report = {
        "seconds": seconds,
        "rows_read": result.rows_read,
        "inserted": result.inserted,
        "rejected": result.rejected,
        "deactivated": result.deactivated,
    }
    if reimport:
        started = time.perf_counter()
        again = import_nppes(engine, csv_path)
        report["reimport_seconds"] = time.perf_counter() - started
        report["reimport_unchanged"] = again.unchanged
    engine.dispose()
    print(json.dumps(report))


def run_ours(database: Path, csv_path: Path, reimport: bool) -> tuple[dict[str, float], float]:
    """Import in a child process; returns its JSON report and its peak RSS in MB."""
    flags = ["--reimport"] if reimport else []
    done = subprocess.run(
        [sys.executable, __file__, "--child-import", str(database), str(csv_path), *flags],
        check=True,
        capture_output=True,
        text=True,
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return json.loads(done.stdout.strip().splitlines()[-1]), peak_kb / 1024


def run_sqlite_shell(database: Path, csv_path: Path) -> float:
    shell = shutil.which("sqlite3")
    if shell is None:
        sys.exit("the sqlite3 shell is missing: apt-get install -y sqlite3")
    started = time.perf_counter()
    subprocess.run(
        [shell, str(database), "-cmd", ".mode csv", f".import {csv_path} nppes_raw"], check=True
    )
    return time.perf_counter() - started


def lookup_latencies(database: Path, count: int, seed: int) -> list[float]:
    from sqlalchemy import text

    from bots.gatekeeper.registry import find_provider
    from curbside.database import make_engine

    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        npis = list(
            connection.execute(
                text("SELECT npi FROM registry_providers ORDER BY random() LIMIT :n"), {"n": count}
            ).scalars()
        )
    random.Random(seed).shuffle(npis)
    timings = []
    for npi in npis:
        started = time.perf_counter()
        record = find_provider(engine, npi)
        timings.append(time.perf_counter() - started)
        assert record is not None
    engine.dispose()
    return timings


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=9_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep the CSV and databases")
    parser.add_argument(
        "--reimport", action="store_true", help="also time importing the same file again"
    )
    parser.add_argument("--child-import", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        database, csv_path = args.child_import
        child_import(database, csv_path, reimport=args.reimport)
        return

    from bots.gatekeeper.registry import generate_nppes_file

    console = Console()
    needed = args.rows * BYTES_PER_ROW
    free = shutil.disk_usage(args.workdir).free
    if needed > free:
        sys.exit(f"needs about {needed / 1e9:.1f} GB in {args.workdir}, {free / 1e9:.1f} GB free")
    work = Path(tempfile.mkdtemp(prefix="nppes-bench-", dir=args.workdir))
    try:
        csv_path = work / "npidata_pfile_synthetic.csv"
        with console.status(f"generating {args.rows:,} rows"):
            started = time.perf_counter()
            generated = generate_nppes_file(csv_path, args.rows, seed=args.seed)
            generate_seconds = time.perf_counter() - started
        with console.status("importing with import_nppes (child process)"):
            ours, peak_mb = run_ours(work / "registry.db", csv_path, args.reimport)
        with console.status("importing with the sqlite3 shell's .import"):
            shell_seconds = run_sqlite_shell(work / "bare.db", csv_path)
        with console.status(f"{args.lookups:,} NPI lookups"):
            latencies = lookup_latencies(work / "registry.db", args.lookups, args.seed)
        assert ours["inserted"] == generated.rows and ours["rejected"] == 0
        if args.reimport:
            assert ours["reimport_unchanged"] == generated.rows

        ratio = ours["seconds"] / shell_seconds
        size_gb = generated.bytes_written / 1e9
        table = Table(title=f"NPPES import, {args.rows:,} rows, {size_gb:.2f} GB")
        for column in ("measure", "value", "target", "met"):
            table.add_column(column)
        yes = {True: "yes", False: "NO"}
        table.add_row("generate file", f"{generate_seconds:.1f} s "
                      f"({args.rows / generate_seconds:,.0f} rows/s)", "", "")
        table.add_row("sqlite3 .import (bare table)", f"{shell_seconds:.1f} s", "", "")
        table.add_row("import_nppes", f"{ours['seconds']:.1f} s "
                      f"({args.rows / ours['seconds']:,.0f} rows/s)", "", "")
        if args.reimport:
            table.add_row("import_nppes again (all unchanged)",
                          f"{ours['reimport_seconds']:.1f} s", "", "")
        table.add_row("ratio ours / .import", f"{ratio:.2f}", f"<= {RATIO_TARGET}",
                      yes[ratio <= RATIO_TARGET])
        table.add_row("importer peak RSS", f"{peak_mb:.0f} MB", f"<= {RSS_TARGET_MB} MB",
                      yes[peak_mb <= RSS_TARGET_MB])
        table.add_row("NPI lookup p50", f"{percentile(latencies, 0.50) * 1e3:.3f} ms", "", "")
        table.add_row("NPI lookup p99", f"{percentile(latencies, 0.99) * 1e3:.3f} ms", "", "")
        table.add_row("database size (ours / bare)",
                      f"{(work / 'registry.db').stat().st_size / 1e9:.2f} / "
                      f"{(work / 'bare.db').stat().st_size / 1e9:.2f} GB", "", "")
        console.print(table)
    finally:
        if args.keep:
            console.print(f"kept {work}")
        else:
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
