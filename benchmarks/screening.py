"""The screens' cost and quality: the new ``screening/`` package beside the old regex screens.

    python benchmarks/screening.py [--seconds 5]

The old screens (``bots/medinfo/ae_screen.py`` and ``phi_firewall.py``, regex
tables) were moved out of the tree when ``screening/`` replaced them; this
script reads them back from git history (``git show <deleting commit>^:path``)
into a temporary directory, so both run in the same run on the same machine
without a copy kept in the repository.

Measured, for each implementation:
- first load: a fresh Python process imports the screens and screens one
  message (model and dictionary loading included), wall-clock and CPU seconds
  (the drug-name cache, ``screening.products``, is warm after the first run ever);
- peak RSS added: that process's peak resident set size minus its peak
  before the import (``ru_maxrss``);
- messages/s: warm, in this process, PV screen plus identifier screen and
  redaction per message, over the texts of set_a and the medinfo sets, per
  wall-clock second and per CPU second (the latter does not depend on how
  busy the machine is).
Targets from issue 11: >= 200 messages/s, first load <= 3 s, RSS added <= 300 MB.
Then the recall/precision table of ``tests/screening/evaluation.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.screening import evaluation  # noqa: E402

OLD_FILES = ("bots/medinfo/ae_screen.py", "bots/medinfo/phi_firewall.py")
SAMPLE = "My 94 yo pt Mr. Okafor on Eliquis fainted at home on 3/14, call 617-555-0143."
TARGETS = {"first load (s)": "<= 3", "first load (CPU s)": "", "peak RSS added (MB)": "<= 300",
           "messages/s": ">= 200", "messages per CPU second": ""}

_PROBE = """
import json, resource, sys, time
sys.path[:0] = {paths!r}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, cpu = time.perf_counter(), time.process_time()
{load}
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "cpu": cpu, "rss_mb": (after - before) / 1024}}))
"""
_NEW_LOAD = ("from screening import decision\n"
             f"decision.assess({SAMPLE!r})")
_OLD_LOAD = ("import ae_screen, phi_firewall\n"
             f"ae_screen.screen({SAMPLE!r}, names_product=True)\n"
             f"phi_firewall.redact({SAMPLE!r})")


def old_screens(folder: Path) -> Path:
    """Write the old modules, as they were before the move, into ``folder``."""
    deleting = subprocess.run(
        ["git", "rev-list", "-n", "1", "HEAD", "--", OLD_FILES[0]], cwd=ROOT, check=True,
        capture_output=True, text=True).stdout.strip()
    for path in OLD_FILES:
        source = subprocess.run(["git", "show", f"{deleting}^:{path}"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
        (folder / Path(path).name).write_text(source, encoding="utf-8")
    return folder


def first_load(paths: list[str], load: str) -> dict[str, float]:
    """Load time and RSS added, in a fresh interpreter."""
    code = _PROBE.format(paths=paths, load=load)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def throughput(screen: Callable[[str], object], texts: list[str],
               seconds: float) -> tuple[float, float]:
    """Messages per wall-clock second and per CPU second, warm, over ``texts``."""
    for text in texts[:5]:
        screen(text)
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for text in texts:
            screen(text)
        done += len(texts)
    return done / (time.perf_counter() - start), done / (time.process_time() - cpu)


def texts() -> list[str]:
    """The tuning texts (set_a and the medinfo sets) — never used for anything but timing."""
    return [case.text for name in ("set_a", "medinfo ae_cases", "medinfo phi_cases")
            for case in evaluation.SETS[name]()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="timing per screen")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as folder:
        old_dir = old_screens(Path(folder))
        old_load = first_load([str(old_dir)], _OLD_LOAD)
        new_load = first_load([str(ROOT)], _NEW_LOAD)
        sys.path.insert(0, str(old_dir))
        import ae_screen
        import phi_firewall

        from screening import decision

        sample = texts()

        def old(text: str) -> object:
            return ae_screen.screen(text, names_product=True), phi_firewall.redact(text)

        old_rate = throughput(old, sample, args.seconds)
        new_rate = throughput(decision.assess, sample, args.seconds)

    table = Table(title=f"screens on {len(sample)} messages (set_a + medinfo sets)")
    for column in ("measure", "old regex screens", "screening/", "new / old", "target"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    rows = (("first load (s)", old_load["seconds"], new_load["seconds"]),
            ("first load (CPU s)", old_load["cpu"], new_load["cpu"]),
            ("peak RSS added (MB)", old_load["rss_mb"], new_load["rss_mb"]),
            ("messages/s", old_rate[0], new_rate[0]),
            ("messages per CPU second", old_rate[1], new_rate[1]))
    for name, before, after in rows:
        ratio = f"{after / before:.1f}x" if before >= 0.01 else "-"
        table.add_row(name, f"{before:.2f}", f"{after:.2f}", ratio, TARGETS[name])
    console.print(table)
    console.print(f"load average while measuring: {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} CPUs (wall-clock figures shrink with contention)")
    results = {name: evaluation.score(load()) for name, load in evaluation.SETS.items()}
    print(evaluation.table(results))


if __name__ == "__main__":
    main()
