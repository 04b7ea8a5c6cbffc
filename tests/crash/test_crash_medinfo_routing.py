"""Scenario: the medinfo bot is SIGKILLed twice while routing a clinician's request.

1. after the confirming message was handled (request routed, thread root and
   confirmation queued) but before the handler committed — the restarted
   bot handles the message again from its inbox;
2. after the homeserver accepted the thread root in the MSL room but before
   the outbox marked it sent — the restarted outbox sends it again under its
   fixed transaction id, and learns the same event id.

Afterwards the MSL room has exactly one thread root for the request, the
clinician one confirmation, and the root the MSL sees is the one the bot
knows: a !claim in its thread is answered there.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bots.medinfo.bot import MedinfoBot
from bots.medinfo.lifecycle import reference
from bots.medinfo.models import RequestRow
from bots.medinfo.sponsors import import_sponsors
from curbside.database import migrate, session_scope
from curbside.matrix.models import MatrixOutboxMessage
from tests.crash.processes import Component
from tests.medinfo.sponsor_fixtures import PLACEHOLDER_HELIX, SponsorRooms, write_sponsors
from tests.referral_desk.desk_world import credential
from tests.support.matrix_testkit import PASSWORD, MatrixUser, Received, bot_setup, wait_for

pytestmark = pytest.mark.homeserver

QUESTION = "Can Glucera be crushed for a feeding tube?"
ROOT_TEXT = "Medical information request"
CONFIRMATION = "Sent to Northwind Pharma's medical team"
SETTLE = 3.0  # seconds left for anything that would arrive twice


def bot_posts(user: MatrixUser, bot_id: str, room_id: str) -> list[Received]:
    return [r for r in user.received if r.room_id == room_id and r.event.sender == bot_id]


def in_thread(posts: list[Received], root: str) -> list[Received]:
    return [r for r in posts if (r.content.get("m.relates_to") or {}).get("event_id") == root]


async def test_a_request_is_routed_once_across_two_kills(
    homeserver, tmp_path, unique, db_url
) -> None:
    setup = await bot_setup(homeserver, tmp_path, f"medinfo{unique}", db_url=db_url)
    bot_id, engine = setup.account.user_id, setup.config.engine
    migrate(engine, MedinfoBot.version_locations())
    clinician = await MatrixUser.create(homeserver, f"clin{unique}")
    msl = await MatrixUser.create(homeserver, f"msl{unique}")
    bot: Component | None = None
    try:
        msl_room = await msl.create_encrypted_room([])
        north = SponsorRooms(msl_room, "!northpv:curbside.test", msl.user_id,
                             "@northlead:curbside.test", "@northpv:curbside.test")
        import_sponsors(engine, write_sponsors(tmp_path / "sponsors.yaml", north,
                                               PLACEHOLDER_HELIX))
        with session_scope(engine) as session:
            session.add(credential(clinician.user_id, "Dana Whitfield", "1234567893",
                                   "Cardiologist"))
        bot = Component("tests.crash.medinfo_process", {
            "url": homeserver.url, "store_dir": str(setup.config.store_dir),
            "db_url": setup.db_url, "master_key": setup.master_key,
            "pickle_key": setup.config.pickle_key, "user_id": bot_id, "password": PASSWORD,
            "audit_key": (b"k" * 32).hex(), "msl_room": msl_room,
            "pauses": ["routed-uncommitted", "root-sent"],
        }, tmp_path)
        device_id = await bot.start()
        await msl.client.room_invite(msl_room, bot_id)
        await msl.wait_joined(msl_room, bot_id, device_id)
        dm = await clinician.create_encrypted_room([bot_id])
        await clinician.wait_joined(dm, bot_id, device_id)

        root = await clinician.send(dm, f"!medinfo urgency=routine {QUESTION}")

        def questions() -> int:
            return len(in_thread(bot_posts(clinician, bot_id, dm), root))

        async def answer_next(text: str) -> None:
            before = questions()
            await wait_for(lambda: questions() > before, timeout=60,
                           what="the bot's next question")
            await clinician.send(dm, text, thread_root=root)

        for text in ("chat", "yes", "no", "send"):
            await answer_next(text)

        await bot.restart_after_kill_at("routed-uncommitted")
        await bot.restart_after_kill_at("root-sent")

        def roots() -> list[Received]:
            return [r for r in bot_posts(msl, bot_id, msl_room)
                    if r.body.startswith(ROOT_TEXT) and "m.relates_to" not in r.content]

        def confirmations() -> list[Received]:
            return [r for r in in_thread(bot_posts(clinician, bot_id, dm), root)
                    if r.body.startswith(CONFIRMATION)]

        await wait_for(roots, timeout=60, what="the request in the MSL room")
        await wait_for(confirmations, timeout=60, what="the clinician's confirmation")
        await asyncio.sleep(SETTLE)

        assert len(roots()) == 1, f"{len(roots())} thread roots in the MSL room"
        assert len(confirmations()) == 1, f"{len(confirmations())} confirmations"
        msl_root = roots()[0].event.event_id
        with session_scope(engine) as session:
            [row] = session.scalars(select(RequestRow)).all()
            assert row.state == "routed" and row.team_room_id == msl_room
            assert reference(row) in roots()[0].body
            sent_as = session.scalars(select(MatrixOutboxMessage.sent_event_id).where(
                MatrixOutboxMessage.txn_id == row.root_txn_id)).one()
            assert sent_as == msl_root

        await msl.send(msl_room, "!claim", thread_root=msl_root)
        await wait_for(lambda: [r for r in in_thread(bot_posts(msl, bot_id, msl_room), msl_root)
                                if "claimed" in r.body], timeout=30,
                       what="the claim answered in the root's thread")
    finally:
        if bot is not None:
            await bot.kill()
        await clinician.close()
        await msl.close()
