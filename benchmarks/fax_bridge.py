"""Inbound fax → visible in the clinician's client, beside the `!ping` round trip.

    python benchmarks/fax_bridge.py [--faxes 100] [--pings 100]

Starts its own Synapse with the fax bridge's appservice registered, the
bridge, and a fax gateway (loopback line). A clinician owns a number and has
its portal open. Each fax (a 1-page PDF) is handed to the gateway as a
provider's webhook would hand it (``Gateway.fax_received``); the clock stops
when the clinician's nio client has the decrypted ``m.file`` from the
number's puppet. One at a time, so each number is a latency, not a queue.

The baseline is the foundation's measure from ``benchmarks/roundtrip.py``
(``time_one``: an encrypted ``!ping`` to the Curbside bot and to a bare nio
echo client, send → reply seen), run on the same homeserver. The bridge does
more per fax than a bot per ping (store the fax, read it back audited,
encrypt and upload the PDF, then send two events), so the ratio says what
that costs on top of one Matrix round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]  # roundtrip.py's own imports

from benchmarks.roundtrip import EchoClient, ReplyClock, percentile, time_one  # noqa: E402
from curbside.matrix.bot import Bot  # noqa: E402
from fax_gateway.transports.base import ContentKind, ReceivedFax  # noqa: E402
from tests.bridge.harness import World, bridge_world, files  # noqa: E402
from tests.support.documents import make_pdf  # noqa: E402
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for  # noqa: E402

NUMBER = "+13125550190"


async def time_fax(world: World, clinician: MatrixUser, room_id: str, pdf: bytes) -> float:
    puppet_id = world.puppet_id(NUMBER)
    before = len(files(clinician, room_id, puppet_id))
    started = time.perf_counter()
    await world.gateway.fax_received(ReceivedFax(
        transport="loopback", provider_fax_id=uuid.uuid4().hex, from_number="+13125550101",
        to_number=NUMBER, content=pdf, kind=ContentKind.PDF,
    ))
    await wait_for(lambda: len(files(clinician, room_id, puppet_id)) > before, timeout=60)
    return (time.perf_counter() - started) * 1000


async def owned_portal(world: World) -> tuple[MatrixUser, str]:
    """A clinician who owns ``NUMBER`` and has its portal open: (clinician, portal room)."""
    clinician = await world.clinician("okafor")
    room_id = await world.open_portal(clinician, NUMBER)
    assign = await clinician.send(room_id, f"!fax assign {NUMBER} {clinician.user_id}")
    await wait_for(lambda: clinician.replies_to(assign, world.puppet_id(NUMBER)))
    return clinician, room_id


async def inbound_fax_times(faxes: int) -> list[float]:
    """The inbound fax → client measure alone (other benchmarks compare against it)."""
    with tempfile.TemporaryDirectory() as tmp:
        async with bridge_world(Path(tmp)) as world:
            clinician, room_id = await owned_portal(world)
            pdf = make_pdf(1, "Benchmark fax")
            for _ in range(3):  # warm up sessions and caches everywhere
                await time_fax(world, clinician, room_id, pdf)
            return [await time_fax(world, clinician, room_id, pdf) for _ in range(faxes)]


async def run(faxes: int, pings: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        async with bridge_world(tmp_path) as world:
            clinician, room_id = await owned_portal(world)

            clock = ReplyClock(clinician)
            echo = EchoClient(await MatrixUser.create(world.synapse, "echo"))
            world.users.append(echo.user)
            setup = await bot_setup(world.synapse, tmp_path, "pingbot")
            bot = Bot(setup.account, setup.config)
            await bot.start()
            try:
                bot_room = await clinician.create_encrypted_room([bot.account.user_id])
                await clinician.wait_joined(bot_room, bot.account.user_id, bot.client.device_id)
                echo_room = await clinician.create_encrypted_room([echo.user.user_id])
                await wait_for(lambda: echo_room in echo.user.client.invited_rooms)
                await echo.user.client.join(echo_room)
                await clinician.wait_joined(echo_room, echo.user.user_id,
                                            echo.user.client.device_id)
                pdf = make_pdf(1, "Benchmark fax")
                for _ in range(3):  # warm up sessions and caches everywhere
                    await time_fax(world, clinician, room_id, pdf)
                    await time_one(clinician, clock, bot_room, bot.account.user_id)
                    await time_one(clinician, clock, echo_room, echo.user.user_id)
                results: dict[str, list[float]] = {"fax": [], "bot": [], "bare": []}
                for _ in range(faxes):
                    results["fax"].append(await time_fax(world, clinician, room_id, pdf))
                for _ in range(pings):
                    results["bot"].append(
                        await time_one(clinician, clock, bot_room, bot.account.user_id))
                    results["bare"].append(
                        await time_one(clinician, clock, echo_room, echo.user.user_id))
            finally:
                await bot.stop()
    return results


def report(faxes: int, pings: int, results: dict[str, list[float]]) -> None:
    table = Table(title=f"Fax bridge latency: {faxes} inbound faxes, {pings} !pings each (ms)")
    for column in ("", "n", "p50", "p90", "mean", "p50 ÷ bot !ping", "p50 ÷ bare echo"):
        table.add_column(column, justify="right")
    names = {"fax": "inbound fax → m.file in client", "bot": "!ping → Curbside bot",
             "bare": "!ping → bare nio echo"}
    bot_p50 = percentile(results["bot"], 50)
    bare_p50 = percentile(results["bare"], 50)
    for key, name in names.items():
        values = results[key]
        p50 = percentile(values, 50)
        table.add_row(name, str(len(values)), f"{p50:.1f}", f"{percentile(values, 90):.1f}",
                      f"{statistics.fmean(values):.1f}", f"{p50 / bot_p50:.2f}",
                      f"{p50 / bare_p50:.2f}")
    Console(width=120).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faxes", type=int, default=100)
    parser.add_argument("--pings", type=int, default=100)
    args = parser.parse_args()
    logging.getLogger("nio").setLevel(logging.ERROR)
    report(args.faxes, args.pings, asyncio.run(run(args.faxes, args.pings)))


if __name__ == "__main__":
    main()
