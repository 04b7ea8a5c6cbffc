"""A faxed-back reply sheet → the referrer sees "accepted", beside an inbound fax → client.

    python benchmarks/fax_reply.py [--replies 20] [--faxes 20]

Two measures in one run, on this machine:

* **reply** — a referral sent by fax waits for its answer. The office ticks
  Accepted on the packet's reply sheet; the benchmark hands the faxed page
  (a T.6 TIFF at fine resolution, turned and speckled by the fax office of
  ``tests/support/fax_office.py``) to the gateway as the line's receiver does
  once the last page is in (``Gateway.fax_received``). The clock stops when
  the referrer's nio client has decrypted "RF-… was accepted" in the
  referral's thread: store the fax, read it back (audited), rasterise, find
  the QR code, align, read the marks, move the referral, post through the
  outbox, Synapse, E2EE, sync.
* **baseline** — ``benchmarks/fax_bridge.py``'s measure, run here too: an
  inbound 1-page fax until the clinician's client has the decrypted
  ``m.file`` from the number's puppet (store, read back, encrypt, upload, send).

The issue's target: reply p50 at most 1.5 times baseline p50.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

from benchmarks import fax_bridge  # noqa: E402
from benchmarks.roundtrip import percentile  # noqa: E402
from curbside.database import session_scope  # noqa: E402
from fax_gateway.transports.base import ContentKind, ReceivedFax  # noqa: E402
from referral.cases import get_referral  # noqa: E402
from referral.documents.reply_layout import Answer  # noqa: E402
from referral.packets import render_packet  # noqa: E402
from tests.conftest import make_synapse  # noqa: E402
from tests.referral_desk.conftest import World, desk_world  # noqa: E402
from tests.referral_desk.desk_world import DESK_CONFIG, in_thread  # noqa: E402
from tests.referral_desk.test_answers_and_refusals import sent_referral  # noqa: E402
from tests.support.fax_office import (  # noqa: E402
    OfficeAnswer,
    Pen,
    degrade,
    fax_tiff,
    mark_sheet,
    nominal,
    sheet_from_packet,
)
from tests.support.matrix_testkit import wait_for  # noqa: E402

PRACTICE_FAX = "+13125550108"
FINE = 196


def accepted_reply(world: World, referral_id: str) -> bytes:
    """The office's faxed answer to ``referral_id``: Accepted ticked, as a received TIFF."""
    with session_scope(world.desk.setup.config.engine) as session:
        sheet = sheet_from_packet(render_packet(get_referral(session, referral_id)))
    rng = random.Random(referral_id)
    mark_sheet(Pen(sheet, nominal(204), rng), OfficeAnswer(frozenset({Answer.ACCEPTED})))
    return fax_tiff([degrade(sheet, rng, y_dpi=FINE, max_angle=2.0)], FINE)


async def time_reply(world: World) -> float:
    desk, coord, room = world.desk, world.coordinator, world.room
    referral_id, root = await sent_referral(world, PRACTICE_FAX, "Beacon Cardiology")
    tiff = await asyncio.to_thread(accepted_reply, world, referral_id)
    seen = f"{referral_id} was accepted"
    started = time.perf_counter()
    await desk.gateway.fax_received(ReceivedFax(
        transport="loopback", provider_fax_id=uuid.uuid4().hex, from_number=PRACTICE_FAX,
        to_number=DESK_CONFIG.organisation_fax, content=tiff, kind=ContentKind.TIFF))
    await wait_for(lambda: [r for r in in_thread(coord, desk.user_id, room, root)
                            if seen in r.body], timeout=120, what=seen)
    return (time.perf_counter() - started) * 1000


async def run_replies(replies: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        synapse = make_synapse(Path(tmp) / "synapse")
        synapse.start()
        try:
            async with desk_world(synapse, Path(tmp), uuid.uuid4().hex[:8]) as world:
                await time_reply(world)  # warm up sessions, caches and zxing
                return [await time_reply(world) for _ in range(replies)]
        finally:
            synapse.stop()


def report(results: dict[str, list[float]]) -> None:
    replies, faxes = results["reply"], results["fax"]
    table = Table(title=f"Fax reply latency: {len(replies)} reply sheets, "
                  f"{len(faxes)} inbound faxes (ms)")
    for column in ("", "n", "p50", "p90", "mean", "p50 ÷ inbound fax p50"):
        table.add_column(column, justify="right")
    base = percentile(faxes, 50)
    rows = {"reply": "reply sheet faxed → referrer sees 'accepted'",
            "fax": "inbound fax → m.file in client (fax_bridge.py)"}
    for key, name in rows.items():
        values = results[key]
        p50 = percentile(values, 50)
        table.add_row(name, str(len(values)), f"{p50:.1f}", f"{percentile(values, 90):.1f}",
                      f"{statistics.fmean(values):.1f}", f"{p50 / base:.2f}")
    Console(width=120).print(table)
    print("target: reply p50 ≤ 1.5 times inbound fax p50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=20)
    parser.add_argument("--faxes", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("nio").setLevel(logging.ERROR)
    baseline = asyncio.run(fax_bridge.inbound_fax_times(args.faxes))
    replies = asyncio.run(run_replies(args.replies))
    report({"reply": replies, "fax": baseline})


if __name__ == "__main__":
    main()
