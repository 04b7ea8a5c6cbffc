"""Load on the medinfo desk: many verified clinicians asking at once.

    python benchmarks/medinfo_load.py [--clinicians 50] [--requests 10]

Starts its own Synapse (loopback, temp dir), one medinfo bot on SQLite, one
Northwind MSL client reading the team room, and N clinicians (real E2EE nio
clients, each with a verified credential and a DM with the bot). Every
clinician sends all its requests at once (options up front, then ``send`` on
the confirmation), all clinicians concurrently. Checks that every request
reached the MSL room exactly once, and prints intake-to-thread latency
(clinician's first message → thread root visible to the MSL) p50/p90 beside
the foundation's ``!ping`` round trip measured on the same bot and server
(the baseline of ``benchmarks/roundtrip.py``), plus the screens' recall and
precision on their labelled sets.

A second table splits that latency into stages from the bot's own records
(request row, outbox row) and the thread root's server timestamp, so queueing
shows where it happens: the bot's inbox/handlers, its outbox, or the clients.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import nio
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.medinfo.bot import MedinfoBot
from bots.medinfo.models import RequestRow
from bots.medinfo.sponsors import import_sponsors
from curbside.database import migrate, session_scope
from curbside.homeserver import EmbeddedSynapse, HomeserverLayout, free_port
from curbside.matrix.models import MatrixOutboxMessage
from tests.medinfo.scoring import ae_score, phi_score
from tests.medinfo.sponsor_fixtures import SponsorRooms, write_sponsors
from tests.medinfo.test_desk import _credential
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def stages(engine: Engine, roots: dict[str, tuple[str, float, float]],
           wall_started: dict[str, float]) -> dict[str, list[float]]:
    """Seconds each request spent per stage, from the bot's rows and the root event.

    ``roots`` maps a request tag to (root event id, its server timestamp, when
    the MSL client saw it), all wall-clock seconds.
    """
    by_event = {event_id: (tag, ts, seen) for tag, (event_id, ts, seen) in roots.items()}
    out: dict[str, list[float]] = {
        "clinician sends → bot handles turn 1": [],
        "turn 1 handled → turn 2 handled (reply, clinician, sync)": [],
        "turn 2 handled → root accepted by server (outbox)": [],
        "root accepted → MSL client has it (sync, decrypt)": [],
    }
    with session_scope(engine) as session:
        rows = session.execute(
            select(RequestRow.received_at, RequestRow.routed_at,
                   MatrixOutboxMessage.sent_event_id)
            .join(MatrixOutboxMessage, MatrixOutboxMessage.txn_id == RequestRow.root_txn_id))
        for received_at, routed_at, sent_event_id in rows:
            if sent_event_id not in by_event or routed_at is None:
                continue
            tag, server_ts, seen_at = by_event[sent_event_id]
            turn1, turn2 = _epoch(received_at), _epoch(routed_at)
            for name, value in zip(out, (turn1 - wall_started[tag], turn2 - turn1,
                                         server_ts - turn2, seen_at - server_ts), strict=True):
                out[name].append(value)
    return out


async def one_request(clinician: MatrixUser, dm: str, bot_id: str, tag: str,
                      seen: dict[str, float], wall_started: dict[str, float]) -> float:
    started = time.perf_counter()
    wall_started[tag] = time.time()
    root = await clinician.send(
        dm, f"!medinfo urgency=routine response=chat consent=yes share=no "
            f"[{tag}] Can Glucera be taken with food?")

    def confirm_asked() -> bool:
        return any(r.event.sender == bot_id and "exactly what the sponsor" in r.body
                   and (r.content.get("m.relates_to") or {}).get("event_id") == root
                   for r in clinician.received)

    await wait_for(confirm_asked, timeout=600, what=f"{tag} confirmation")
    await clinician.send(dm, "send", thread_root=root)
    await wait_for(lambda: tag in seen, timeout=600, what=f"{tag} in the MSL room")
    return seen[tag] - started


async def ping(clinician: MatrixUser, dm: str, bot_id: str) -> float:
    started = time.perf_counter()
    event_id = await clinician.send(dm, "!ping")
    await wait_for(lambda: clinician.replies_to(event_id, bot_id), what="pong")
    return time.perf_counter() - started


async def run(clinicians: int, requests: int) -> None:
    console = Console()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        synapse = EmbeddedSynapse(HomeserverLayout(
            data_dir=tmp / "synapse", server_name="curbside.test", port=free_port(),
            registration_shared_secret="load-secret-" + str(free_port())))
        synapse.start()
        try:
            msl = await MatrixUser.create(synapse, "nmsl")
            npv = await MatrixUser.create(synapse, "npv")
            hmsl = await MatrixUser.create(synapse, "hmsl")
            rooms = [await u.create_encrypted_room([]) for u in (msl, npv, hmsl, hmsl)]
            setup = await bot_setup(synapse, tmp, "medinfo")
            engine = setup.config.engine
            migrate(engine, MedinfoBot.version_locations())
            import_sponsors(engine, write_sponsors(
                tmp / "sponsors.yaml",
                SponsorRooms(rooms[0], rooms[1], msl.user_id, msl.user_id, npv.user_id),
                SponsorRooms(rooms[2], rooms[3], hmsl.user_id, hmsl.user_id, hmsl.user_id)))
            people = [await MatrixUser.create(synapse, f"doc{i:02d}") for i in range(clinicians)]
            with session_scope(engine) as session:
                for person in people:
                    session.add(_credential(person.user_id))
            bot = MedinfoBot(setup.account, setup.config, audit_key=b"k" * 32)
            await bot.start()
            bot_id, device = bot.account.user_id, bot.client.device_id
            for owner, room in ((msl, rooms[0]), (npv, rooms[1])):  # Helix is not asked
                await owner.client.room_invite(room, bot_id)
                await owner.wait_joined(room, bot_id, device)
            dms = []
            for person in people:
                dm = await person.create_encrypted_room([bot_id])
                await person.wait_joined(dm, bot_id, device)
                dms.append(dm)

            seen: dict[str, float] = {}
            wall_started: dict[str, float] = {}
            roots: dict[str, tuple[str, float, float]] = {}
            counts: Counter[str] = Counter()

            async def on_root(room: nio.MatrixRoom, event: nio.RoomMessageNotice) -> None:
                body = str(event.source.get("content", {}).get("body", ""))
                relates = event.source.get("content", {}).get("m.relates_to")
                if room.room_id == rooms[0] and relates is None and "[c" in body:
                    tag = body.split("[", 2)[1].split("]")[0]
                    counts[tag] += 1
                    seen.setdefault(tag, time.perf_counter())
                    roots.setdefault(tag, (event.event_id, event.server_timestamp / 1000,
                                           time.time()))

            msl.client.add_event_callback(on_root, nio.RoomMessageNotice)
            baseline = [await ping(people[0], dms[0], bot_id) for _ in range(30)]
            started = time.perf_counter()
            latencies = await asyncio.gather(*(
                one_request(person, dm, bot_id, f"c{i:02d}-r{j:02d}", seen, wall_started)
                for i, (person, dm) in enumerate(zip(people, dms, strict=True))
                for j in range(requests)))
            wall = time.perf_counter() - started
            await asyncio.sleep(2)  # a late duplicate would show up here
            total = clinicians * requests
            duplicates = sum(1 for c in counts.values() if c > 1)
            await bot.stop()
            breakdown = stages(engine, roots, wall_started)
            for person in (msl, npv, hmsl, *people):
                await person.close()
        finally:
            synapse.stop()

    table = Table(title=f"medinfo load: {clinicians} clinicians x {requests} requests")
    table.add_column("measure")
    table.add_column("p50 (ms)", justify="right")
    table.add_column("p90 (ms)", justify="right")
    table.add_column("ratio p50 vs !ping", justify="right")
    ping50, ping90 = percentile(baseline, 50), percentile(baseline, 90)
    table.add_row("!ping round trip (foundation baseline)", f"{ping50 * 1000:.0f}",
                  f"{ping90 * 1000:.0f}", "1.00")
    p50, p90 = percentile(latencies, 50), percentile(latencies, 90)
    table.add_row("intake → MSL thread (2 clinician turns)", f"{p50 * 1000:.0f}",
                  f"{p90 * 1000:.0f}", f"{p50 / ping50:.2f}")
    console.print(table)
    split = Table(title="where the intake → MSL thread time goes")
    split.add_column("stage")
    split.add_column("p50 (ms)", justify="right")
    split.add_column("p90 (ms)", justify="right")
    for name, values in breakdown.items():
        if len(values) >= 2:
            split.add_row(name, f"{percentile(values, 50) * 1000:.0f}",
                          f"{percentile(values, 90) * 1000:.0f}")
    console.print(split)
    console.print(f"routed {len(seen)}/{total}, lost {total - len(seen)}, duplicated "
                  f"{duplicates}; wall {wall:.1f}s ({total / wall:.1f} requests/s)")
    phi = phi_score()
    adverse, complaint = ae_score()
    console.print(f"PHI firewall recall {phi.recall:.3f} precision {phi.precision:.3f}; "
                  f"AE recall {adverse.recall:.3f} precision {adverse.precision:.3f}; "
                  f"complaint recall {complaint.recall:.3f} precision {complaint.precision:.3f}")
    if len(seen) != total or duplicates:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinicians", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.clinicians, args.requests))


if __name__ == "__main__":
    main()
