"""The sweep as a supervised job: a homeserver hiccup and a member it cannot remove.

No homeserver: the gatekeeper is built but not started, and the sweep sees a
stand-in client (rooms, kicks) while its supervisor runs the declared job on
the real database of each backend. What the sweep queued is read back from
the outbox.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import nio
from sqlalchemy import Engine, select

from bots.gatekeeper.bot import GatekeeperBot
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.notices import remember_contact
from bots.gatekeeper.revocation import SWEEP, Sweeper
from curbside.audit import AuditEntry, AuditLog
from curbside.credentials import VerifiedCredential, VerifiedRoom
from curbside.database import session_scope
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.offloop import MainLoop
from curbside.matrix.supervisor import MAX_ITEM_ATTEMPTS
from curbside.phi import FieldCipher
from tests.support.matrix_testkit import wait_for

ME, ROOM, OPS = "@gatekeeper:x", "!verified:x", "!ops:x"
GONE, STUCK = "@gone:x", "@stuck:x"  # both revoked; kicking STUCK always breaks
NOW = datetime.now(UTC)


class Client:
    """What the sweep uses of nio's client: rooms, kicks, member refreshes."""

    def __init__(self) -> None:
        self.user_id = ME
        self.olm = None
        self.rooms: dict[str, nio.MatrixRoom] = {}
        self.kicks: list[str] = []
        self.hiccups = 3  # the first three kicks find the homeserver unreachable

    def room(self, room_id: str, *members: str) -> None:
        room = nio.MatrixRoom(room_id, ME)
        for user in (ME, *members):
            room.add_member(user, None, None)
        self.rooms[room_id] = room

    async def room_kick(self, room_id: str, user_id: str, reason: str) -> nio.RoomKickResponse:
        self.kicks.append(user_id)
        if self.hiccups:
            self.hiccups -= 1
            raise aiohttp.ClientConnectionError("connection refused")
        if user_id == STUCK:
            raise ValueError("this member cannot be handled")
        self.rooms[room_id].remove_member(user_id)
        return nio.RoomKickResponse()

    async def joined_members(self, room_id: str) -> None:
        return None


def _revoked(user_id: str) -> VerifiedCredential:
    return VerifiedCredential(
        user_id=user_id, npi="1234567893", legal_name="Dana Whitfield", credential_text="MD",
        specialty="Cardiologist", taxonomy_code="207RC0000X", licence_state="MA",
        licence_number="MA-1", verified_by="@verifier:x", evidence="",
        verified_at=NOW - timedelta(days=30), expires_at=NOW + timedelta(days=300),
        revoked_at=NOW - timedelta(minutes=1), revoked_reason="licence suspended",
        directory_opt_out=False,
    )


def queued(engine: Engine, bot: GatekeeperBot, room: str) -> list[str]:
    with session_scope(engine) as session:
        return [i.content["body"] for i in bot.runtime.store.undelivered(session, limit=1000)
                if i.room_id == room]


async def test_the_sweep_outlives_an_outage_and_moves_a_member_it_cannot_remove_aside(
        engine: Engine, audit: AuditLog, tmp_path: Path) -> None:
    config = RuntimeConfig("http://127.0.0.1:1", tmp_path, "k" * 16, engine,
                           FieldCipher({"k1": bytes(range(32))}, "k1"), audit=audit,
                           operator_room=OPS)
    bot = GatekeeperBot(BotAccount(ME, "pw", "Gatekeeper"), config, audit=audit,
                        settings=GatekeeperConfig(sweep_interval=0.05))
    client = Client()
    client.room(ROOM, GONE, STUCK)
    for user in (GONE, STUCK):
        client.room(f"!dm-{user[1:]}", user)
    bot.sweeper = Sweeper(client=lambda: client, engine=engine, audit=audit,  # type: ignore[arg-type,return-value]
                          config=bot.settings, supervisor=bot.supervisor)
    with session_scope(engine) as session:
        session.add(VerifiedRoom(room_id=ROOM, created_by="@verifier:x", created_at=NOW))
        for user in (GONE, STUCK):
            session.add(_revoked(user))
            remember_contact(session, user, f"!dm-{user[1:]}", NOW)

    bot.supervisor.start(MainLoop(asyncio.get_running_loop(), workers=4))
    try:
        def stuck_aside() -> bool:
            with session_scope(engine) as session:
                return bool(bot.runtime.store.dead_letters(session))

        await wait_for(stuck_aside, timeout=30, what="the member it cannot remove moved aside")
        passes = len(client.kicks)
        await asyncio.sleep(0.5)  # ten more passes
    finally:
        await bot.stop()

    # the outage ended those passes without counting against GONE, removed once it was over
    assert client.kicks[:4] == [GONE] * 4 and GONE not in client.rooms[ROOM].users
    assert queued(engine, bot, ROOM) == [f"Dana Whitfield, MD ({GONE}) was removed from this "
                                         "verified room: their verification is no longer "
                                         "active."]
    for user in (GONE, STUCK):  # both told why, once
        (dm,) = queued(engine, bot, f"!dm-{user[1:]}")
        assert dm.startswith("Your Curbside verification is no longer active")
    # STUCK: tried MAX_ITEM_ATTEMPTS passes, then left out of every later pass
    assert client.kicks.count(STUCK) == MAX_ITEM_ATTEMPTS
    assert client.kicks[passes:].count(STUCK) == 0
    with session_scope(engine) as session:
        (letter,) = bot.runtime.store.dead_letters(session)
        assert (letter.source, letter.item, letter.error) == (
            f"periodic {SWEEP}", f"remove {STUCK} from {ROOM}", "ValueError")
        removals = session.scalars(select(AuditEntry.details).where(
            AuditEntry.action == "verified_room.remove")).all()
        actions = session.scalars(select(AuditEntry.action)).all()
    assert len(removals) == 1 and GONE in removals[0]
    assert "runtime.dead_letter" in actions
    outage, back, aside = queued(engine, bot, OPS)
    assert f"periodic job {SWEEP} failed 3 times in a row (ClientConnectionError)" in outage
    assert f"periodic job {SWEEP} runs again" in back
    assert f"gave up on item remove {STUCK} from {ROOM} after {MAX_ITEM_ATTEMPTS} tries" in aside
