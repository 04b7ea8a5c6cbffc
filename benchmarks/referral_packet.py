"""Referral packets per second: cover + letter + a 10-page attachment.

    .venv/bin/python benchmarks/referral_packet.py [--seconds 3]

Claim measured: how many complete, deterministic referral packets one core
renders per second — the work the referral desk does at "send" and again
before every delivery (the packet is re-rendered and its SHA-256 checked).
Rows build up the packet part by part so the table shows what each part
costs; the ratio column is each row's time over the letter alone. Each row
runs for at least ``--seconds`` after one warm-up render; the synthetic
patient and attachments come from ``tests/referral/samples.py``.

The second half, :func:`send_latency_rows`, starts its own Synapse, the
referral desk bot and two real E2EE clients, and times ``!send`` → packet
received: in the cardiologist's DM over Matrix (the first send includes
creating the DM), and "delivered by fax" posted back over the loopback T.30
line. Beside them, the foundation's ``!ping`` round trip on the same desk
(``benchmarks/roundtrip.py`` measures it against a bare nio client) shows
how much of the latency is the Matrix round trip itself. For these rows the
time column is the median latency per referral.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curbside.homeserver import EmbeddedSynapse, HomeserverLayout, free_port
from referral.documents.content import AttachmentFile, ReferralDocument
from referral.documents.cover_sheet import render_cover_sheet
from referral.documents.letter import render_letter
from referral.documents.packet import build_packet
from tests.referral.samples import lab_pdf, sample_document, scan_png
from tests.referral_desk.desk_world import (
    Desk,
    ask,
    join_invite,
    prepare_database,
    thread_says,
    verify,
)
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for


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


def _pasted(recipient: str, name: str = "") -> str:
    return "\n".join([
        "patient_name: Maria Q. Testpatient", "date_of_birth: 1957-03-14", "sex: F",
        "mrn: A-123456", "patient_phone: +16175550134", "payer: BCBS MA",
        "member_id: XJH123456789", f"recipient: {recipient}", f"recipient_name: {name}",
        "reason: New atrial fibrillation", "icd10_codes: I48.91", "urgency: routine",
        "clinical_question: Is anticoagulation indicated?", "consent: yes",
    ])


async def _draft(desk: Desk, coord: MatrixUser, room: str, recipient: str,
                 name: str = "") -> tuple[str, str]:
    root = await coord.send(room, "!referral new")
    await wait_for(lambda: coord.replies_to(root, desk.user_id))
    done = await ask(coord, desk, room, _pasted(recipient, name), root)
    return done.split("Draft ", 1)[1].split(" ", 1)[0], root


async def _latencies(budget: float, tmp: Path) -> dict[str, list[float]]:
    synapse = EmbeddedSynapse(HomeserverLayout(
        data_dir=tmp / "synapse", server_name="bench.test", port=free_port(),
        registration_shared_secret="bench-secret",
    ))
    synapse.start()
    results: dict[str, list[float]] = {"ping": [], "first": [], "matrix": [], "fax": []}
    try:
        setup = await bot_setup(synapse, tmp, "desk")
        env, gateway = prepare_database(setup)
        desk = await Desk.start(setup, env, gateway)
        coord = await MatrixUser.create(synapse, "coordinator")
        cardio = await MatrixUser.create(synapse, "cardiologist")
        verify(desk, (coord, "Dana Whitfield", "Family Medicine"),
               (cardio, "Ravi Okafor", "Cardiology"))
        stop = asyncio.Event()
        worker = asyncio.create_task(gateway.worker("bench").run(stop, idle=0.05))
        try:
            room = await coord.create_encrypted_room([desk.user_id])
            await coord.wait_joined(room, desk.user_id, desk.bot.client.device_id)
            joined: list[str] = []

            async def matrix_send(key: str) -> None:
                referral_id, root = await _draft(desk, coord, room, cardio.user_id)
                started = time.perf_counter()
                await coord.send(room, "!send", thread_root=root)
                if not joined:
                    joined.append(await join_invite(cardio))
                await wait_for(lambda: any(r.body == f"Referral {referral_id}.pdf"
                                           for r in cardio.received))
                results[key].append(time.perf_counter() - started)

            async def fax_send() -> None:
                referral_id, root = await _draft(desk, coord, room, "+13125550108", "Beacon")
                started = time.perf_counter()
                await coord.send(room, "!send", thread_root=root)
                await thread_says(coord, desk, room, root, f"{referral_id} was delivered")
                results["fax"].append(time.perf_counter() - started)

            async def ping() -> None:
                started = time.perf_counter()
                event_id = await coord.send(room, "!ping")
                await wait_for(lambda: coord.replies_to(event_id, desk.user_id))
                results["ping"].append(time.perf_counter() - started)

            await matrix_send("first")
            for name, step in (("ping", ping), ("matrix", lambda: matrix_send("matrix")),
                               ("fax", fax_send)):
                begin = time.perf_counter()
                while time.perf_counter() - begin < budget or len(results[name]) < 3:
                    await step()
        finally:
            stop.set()
            await worker
            await desk.bot.stop()
            await coord.close()
            await cardio.close()
            await gateway.close()
    finally:
        synapse.stop()
    return results


def send_latency_rows(budget: float) -> list[Row]:
    """``!send`` → received, over Matrix and fax, beside the desk's ``!ping`` round trip."""
    logging.getLogger("nio").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(_latencies(budget, Path(tmp)))
    return [
        Row("latency: !ping round trip (desk)", 0, statistics.median(results["ping"])),
        Row("latency: !send -> DM (first, new DM)", 0, results["first"][0]),
        Row("latency: !send -> packet in DM", 0, statistics.median(results["matrix"])),
        Row("latency: !send -> fax delivered", 0, statistics.median(results["fax"])),
    ]


SCENARIOS: list[Callable[[float], list[Row]]] = [packet_rows, send_latency_rows]


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


if __name__ == "__main__":
    main()
