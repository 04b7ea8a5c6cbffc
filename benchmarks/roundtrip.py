"""`!ping` round trip: a Curbside bot versus a bare matrix-nio echo client.

    python benchmarks/roundtrip.py [--messages 200]

Starts its own Synapse (loopback, temp dir), one clinician client and two
responders in two encrypted rooms: the Curbside bot (inbox, handler
transaction, outbox, all on SQLite) and a bare nio client that answers
``!ping`` straight from its sync callback. The clinician sends the pings
alternately to both rooms, one at a time, and times each send → reply
(the reply's arrival in the clinician's client).
Prints p50/p90 of each and the ratio bot/bare (target ≤ 1.25).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nio
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curbside.homeserver import EmbeddedSynapse, HomeserverLayout, free_port
from curbside.matrix.bot import Bot
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for


class EchoClient:
    """The baseline: a plain nio client that answers !ping as directly as nio allows."""

    def __init__(self, user: MatrixUser) -> None:
        self.user = user
        user.client.add_event_callback(self._on_message, nio.RoomMessageText)

    async def _on_message(self, room: nio.MatrixRoom, event: nio.RoomMessageText) -> None:
        if event.sender == self.user.user_id or event.body != "!ping":
            return
        await self.user.client.room_send(
            room.room_id, "m.room.message",
            {"msgtype": "m.notice", "body": "pong",
             "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}}},
            ignore_unverified_devices=True,
        )


class ReplyClock:
    """When the clinician's client received each reply, taken in its sync callback.

    Reading the clock when a poll of the received messages (every 50 ms) finds
    the reply would round each time up to the poll's grid: a reply a few ms
    either side of a tick was timed 78 ms or 128 ms.
    """

    def __init__(self, user: MatrixUser) -> None:
        self.arrived: dict[tuple[str, str], float] = {}
        user.client.add_event_callback(self._on_message, nio.RoomMessage)

    async def _on_message(self, room: nio.MatrixRoom, event: nio.RoomMessage) -> None:
        relation = event.source.get("content", {}).get("m.relates_to") or {}
        replied_to = relation.get("m.in_reply_to", {}).get("event_id")
        if replied_to:
            self.arrived.setdefault((replied_to, event.sender), time.perf_counter())


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def time_one(clinician: MatrixUser, clock: ReplyClock, room_id: str,
                   responder: str) -> float:
    started = time.perf_counter()
    event_id = await clinician.send(room_id, "!ping")
    reply = (event_id, responder)
    await wait_for(lambda: reply in clock.arrived, timeout=30)
    return (clock.arrived[reply] - started) * 1000


async def run(messages: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        synapse = EmbeddedSynapse(HomeserverLayout(
            data_dir=tmp_path / "synapse", server_name="bench.test", port=free_port(),
            registration_shared_secret="bench-secret",
        ))
        synapse.start()
        try:
            clinician = await MatrixUser.create(synapse, "clinician")
            clock = ReplyClock(clinician)
            echo = EchoClient(await MatrixUser.create(synapse, "echo"))
            setup = await bot_setup(synapse, tmp_path, "pingbot")
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
                for _ in range(5):  # warm up sessions and caches on both sides
                    await time_one(clinician, clock, bot_room, bot.account.user_id)
                    await time_one(clinician, clock, echo_room, echo.user.user_id)
                bot_ms: list[float] = []
                bare_ms: list[float] = []
                for _ in range(messages):
                    bot_ms.append(await time_one(clinician, clock, bot_room, bot.account.user_id))
                    bare_ms.append(await time_one(clinician, clock, echo_room, echo.user.user_id))
            finally:
                await bot.stop()
                await echo.user.close()
                await clinician.close()
        finally:
            synapse.stop()
    report(messages, bot_ms, bare_ms)


def report(messages: int, bot_ms: list[float], bare_ms: list[float]) -> None:
    table = Table(title=f"!ping round trip, {messages} messages each, encrypted rooms (ms)")
    for column in ("", "p50", "p90", "mean"):
        table.add_column(column, justify="right")
    rows = {"Curbside bot": bot_ms, "bare nio echo": bare_ms}
    for name, values in rows.items():
        table.add_row(name, f"{percentile(values, 50):.1f}", f"{percentile(values, 90):.1f}",
                      f"{statistics.fmean(values):.1f}")
    table.add_row(
        "ratio bot/bare",
        f"{percentile(bot_ms, 50) / percentile(bare_ms, 50):.2f}",
        f"{percentile(bot_ms, 90) / percentile(bare_ms, 90):.2f}",
        f"{statistics.fmean(bot_ms) / statistics.fmean(bare_ms):.2f}",
    )
    Console().print(table)
    print("target: p50 ratio <= 1.25")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    logging.getLogger("nio").setLevel(logging.ERROR)  # key-sharing chatter, not results
    asyncio.run(run(parser.parse_args().messages))


if __name__ == "__main__":
    main()
