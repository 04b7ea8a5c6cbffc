"""Referral packets per second: cover + letter + a 10-page attachment.

    .venv/bin/python benchmarks/referral_packet.py [--seconds 3]

Claim measured: how many complete, deterministic referral packets one core
renders per second — the work the referral desk does at "send" and again
before every delivery (the packet is re-rendered and its SHA-256 checked).
Rows build up the packet part by part so the table shows what each part
costs; the ratio column is each row's time over the letter alone. Each row
runs for at least ``--seconds`` after one warm-up render; the synthetic
patient and attachments come from ``tests/referral/samples.py``.

Extension point — the second half of this benchmark, ``!send`` → received
latency over Matrix and the loopback fax line, needs the referral desk bot,
which does not exist yet. Add it as another function in ``SCENARIOS`` that
returns a :class:`Row`; until then the script says it is not measured
rather than printing a number.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from referral.documents.content import AttachmentFile, ReferralDocument
from referral.documents.cover_sheet import render_cover_sheet
from referral.documents.letter import render_letter
from referral.documents.packet import build_packet
from tests.referral.samples import lab_pdf, sample_document, scan_png


@dataclass(frozen=True)
class Row:
    name: str
    pages: int
    seconds_per_item: float


def _time(render: Callable[[], int], budget: float) -> tuple[int, float]:
    pages = render()  # warm-up: fonts, imports, caches
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget or count < 3:
        render()
        count += 1
    return pages, elapsed / count


def _row(name: str, render: Callable[[], int], budget: float) -> Row:
    pages, per_item = _time(render, budget)
    return Row(name, pages, per_item)


def packet_rows(budget: float) -> list[Row]:
    plain = sample_document(attachments=())
    ten_page_pdf = replace(
        plain, attachments=(AttachmentFile("records.pdf", "application/pdf", lab_pdf(pages=10)),)
    )
    ten_images = replace(
        plain,
        attachments=tuple(
            AttachmentFile(f"scan-{n}.png", "image/png", scan_png(f"scan {n}")) for n in range(10)
        ),
    )

    def letter() -> int:
        render_letter(plain)
        return 2

    def cover() -> int:
        render_cover_sheet(plain, 3)
        return 1

    def packet(doc: ReferralDocument) -> Callable[[], int]:
        return lambda: build_packet(doc).pages

    return [
        _row("letter alone", letter, budget),
        _row("cover sheet alone", cover, budget),
        _row("packet: cover + letter", packet(plain), budget),
        _row("packet: + 10-page PDF attachment", packet(ten_page_pdf), budget),
        _row("packet: + 10 image attachments", packet(ten_images), budget),
    ]


SCENARIOS: list[Callable[[float], list[Row]]] = [packet_rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per row")
    args = parser.parse_args()
    rows = [row for scenario in SCENARIOS for row in scenario(args.seconds)]
    base = rows[0].seconds_per_item
    print(
        f"{'scenario':36} {'pages':>5} {'ms/packet':>10} {'packets/s':>10} "
        f"{'pages/s':>8} {'x letter':>9}"
    )
    for row in rows:
        print(
            f"{row.name:36} {row.pages:>5} {row.seconds_per_item * 1000:>10.1f} "
            f"{1 / row.seconds_per_item:>10.1f} {row.pages / row.seconds_per_item:>8.0f} "
            f"{row.seconds_per_item / base:>9.2f}"
        )
    print(
        "!send -> received latency: not measured yet (needs the referral desk bot; "
        "add a scenario to SCENARIOS)"
    )


if __name__ == "__main__":
    main()
