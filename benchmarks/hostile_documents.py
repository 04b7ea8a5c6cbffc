"""Hostile documents through the sandboxed entry point: time and peak memory per input.

    .venv/bin/python benchmarks/hostile_documents.py

Claims measured (issue 10, item 5): any input up to the size limit is
answered within 5 s and under 300 MB peak RSS; a valid PDF costs at most
1.3x what the same checks cost without the sandbox.

Each hostile input runs in a fresh process of its own, which starts a
sandbox (the server, warmed with one small document, so start-up is not
counted), times one ``Sandbox.inspect`` of the input, closes the sandbox and
reports two peaks: the caller's own (``RUSAGE_SELF``, which includes the
imported gateway and the input's bytes) and the sandbox child's that parsed
the input (``wait4`` in the sandbox server, from its accounting file; the
child's RSS counts the pages it shares with the server, ~45 MB).

The valid documents are timed warm, median of ``RUNS`` calls, through the
sandbox and beside the very same checks (:func:`fax_gateway.probe.probe`)
run in the calling process, without the sandbox; the ratio is the sandbox's
overhead: a Unix-socket round trip to a pre-forked, pre-warmed child. Calls
are paced ``PACE_S`` apart (untimed), as documents arrive one by one; back to
back, every call would also wait for the replacement child to be forked and
warmed (at most two children are ever ready, by design). Two valid PDFs: a
30-page text letter (15 KB; the checks take ~2 ms, so the fixed round trip
weighs most) and a 30-page scanned fax (the usual inbound document).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from tests.support import documents  # noqa: E402

RUNS = 30
PACE_S = 0.2
TIME_LIMIT_S = 5.0
RSS_LIMIT_MB = 300.0
OVERHEAD_TARGET = 1.3


def scanned_fax_pdf(pages: int = 30) -> bytes:
    """A PDF as a received fax becomes one: a CCITT G4 image per page (inbound_pdf)."""
    from PIL import Image, ImageDraw

    from fax_gateway.inbound_pdf import tiff_to_pdf

    sheets = []
    for number in range(pages):
        sheet = Image.new("1", (1728, 2200), 1)
        draw = ImageDraw.Draw(sheet)
        for line in range(60):
            draw.text((100, 120 + line * 32), f"page {number + 1} line {line} " * 4, fill=0)
        sheets.append(sheet)
    with tempfile.TemporaryDirectory() as scratch:
        tiff, pdf = Path(scratch, "fax.tif"), Path(scratch, "fax.pdf")
        sheets[0].save(tiff, compression="group4", save_all=True, append_images=sheets[1:],
                       dpi=(204, 196))
        tiff_to_pdf(tiff, pdf)
        return pdf.read_bytes()


HOSTILE: dict[str, tuple[str, Callable[[], bytes]]] = {
    "page-tree bomb": ("PDF, one page listed 3.3 million times", documents.page_tree_bomb),
    "hidden page-tree bomb": ("the same tree inside a compressed object stream",
                              documents.hidden_page_tree_bomb),
    "20,001-page TIFF": ("TIFF, one IFD per page", documents.many_page_tiff),
    "decompression-bomb PNG": ("PNG, 30,000 x 30,000 zeros", documents.png_bomb),
    "2^31 x 2^31 TIFF": ("TIFF, one page", documents.giant_tiff),
    "valid 30-page PDF": ("text letter (reportlab)", lambda: documents.make_pdf(30)),
    "valid 30-page fax PDF": ("CCITT G4 page images", scanned_fax_pdf),
}


def _peak_mb(who: int) -> float:  # ru_maxrss is in KiB on Linux
    return resource.getrusage(who).ru_maxrss / 1024


def run_one(name: str) -> dict[str, object]:
    """In a fresh process: one sandboxed inspect of ``name``, its time and the peaks."""
    from fax_gateway import DocumentRefused, Sandbox
    from fax_gateway.probe import ProbeLimits, probe

    data = HOSTILE[name][1]()
    accounting = Path(tempfile.mkdtemp()) / "children.jsonl"
    sandbox = Sandbox(accounting=accounting)
    sandbox.inspect(documents.make_pdf(1))  # start and warm the server
    started = time.perf_counter()
    try:
        facts = sandbox.inspect(data)
        outcome = f"accepted: {facts.pages} pages"
    except DocumentRefused as refused:
        outcome = f"{refused.status}: {refused.reason}"
    elapsed = time.perf_counter() - started
    result: dict[str, object] = {"size_mb": len(data) / 2**20, "seconds": elapsed,
                                 "outcome": outcome}
    if outcome.startswith("accepted"):
        sandboxed, direct = [], []
        for _ in range(RUNS):  # alternate, so a busy machine slows both alike
            time.sleep(PACE_S)  # documents arrive one at a time: the next child is forked
            t0 = time.perf_counter()
            sandbox.inspect(data)
            t1 = time.perf_counter()
            probe(data, ProbeLimits())
            direct.append(time.perf_counter() - t1)
            sandboxed.append(t1 - t0)
        result["sandboxed_ms"] = statistics.median(sandboxed) * 1000
        result["direct_ms"] = statistics.median(direct) * 1000
    sandbox.close()
    children = [json.loads(line) for line in accounting.read_text().splitlines()]
    result["caller_mb"] = _peak_mb(resource.RUSAGE_SELF)
    result["sandbox_mb"] = max(c["peak_rss_kb"] for c in children) / 1024
    result["killed"] = sum(c["signal"] is not None for c in children)
    return result


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2])))
        return
    console = Console(width=170)
    table = Table(title="Hostile documents through Sandbox.inspect (fax.documents defaults)")
    for column in ("input", "size MiB", "answer", "child killed", "time s", "sandbox peak MB",
                   "caller peak MB", f"< {TIME_LIMIT_S:.0f} s, < {RSS_LIMIT_MB:.0f} MB"):
        table.add_column(column)
    overhead = Table(title="Valid documents: sandboxed vs the same checks in-process (median "
                           f"of {RUNS}, warm)")
    for column in ("document", "in-process ms", "sandboxed ms", "ratio",
                   f"≤ {OVERHEAD_TARGET}x"):
        overhead.add_column(column)
    for name, (what, _) in HOSTILE.items():
        done = subprocess.run([sys.executable, __file__, "--one", name], check=True,
                              capture_output=True, text=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        within = r["seconds"] < TIME_LIMIT_S and r["sandbox_mb"] < RSS_LIMIT_MB
        table.add_row(f"{name} ({what})", f"{r['size_mb']:.2f}", str(r["outcome"])[:80],
                      "yes" if r["killed"] else "no",
                      f"{r['seconds']:.3f}", f"{r['sandbox_mb']:.0f}", f"{r['caller_mb']:.0f}",
                      "yes" if within else "NO")
        if "sandboxed_ms" in r:
            ratio = r["sandboxed_ms"] / r["direct_ms"]
            overhead.add_row(name, f"{r['direct_ms']:.2f}", f"{r['sandboxed_ms']:.2f}",
                             f"{ratio:.2f}x", "yes" if ratio <= OVERHEAD_TARGET else "NO")
    console.print(table)
    console.print(overhead)
    console.print("sandbox peak = the largest sandbox child (wait4); caller peak includes the "
                  "imported gateway (~120 MB) and the input itself.")


if __name__ == "__main__":
    main()
