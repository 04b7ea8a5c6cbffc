"""A referral sent while the homeserver is down for 10 s arrives after it is back.

The homeserver is stopped the moment the desk's delivery job starts delivering
the packet (a wrapper around the Matrix channel), and started again 10 s
later. The packet must reach the cardiologist once, the referral must not be
failed, and nothing the desk says about it may be posted twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator

import pytest

from bots.referral_desk.matrix_channel import MatrixChannel
from curbside.database import session_scope
from referral.cases import business_statuses, get_referral
from referral.states import Status
from tests.referral_desk.conftest import World, desk_world
from tests.referral_desk.desk_world import (
    ask,
    in_thread,
    join_invite,
)
from tests.referral_desk.test_closed_loop import form_answers
from tests.support.matrix_testkit import wait_for

pytestmark = pytest.mark.homeserver

OUTAGE = 10.0


@pytest.fixture
async def outage_world(private_homeserver, tmp_path, unique) -> AsyncIterator[World]:
    """The desk's world on a homeserver of this test's own, which it stops and starts."""
    async with desk_world(private_homeserver, tmp_path, unique) as world:
        yield world


async def test_a_packet_sent_during_an_outage_arrives_once_after_it(
    outage_world: World, private_homeserver, monkeypatch
) -> None:
    desk, coord, cardio, room = (outage_world.desk, outage_world.coordinator,
                                 outage_world.cardiologist, outage_world.room)
    root = await coord.send(room, "!referral new")
    await wait_for(lambda: coord.replies_to(root, desk.user_id), what="first question")
    answers = form_answers(cardio.user_id)
    for text in answers[:-1]:
        await ask(coord, desk, room, text, root)
    done = await ask(coord, desk, room, answers[-1], root)
    referral_id = done.split("Draft ", 1)[1].split(" ", 1)[0]

    # The delivery job runs on a handler thread, in an event loop of its own: the
    # restart is scheduled on the test's loop, which outlives the job's run.
    test_loop = asyncio.get_running_loop()
    outage: dict[str, concurrent.futures.Future[None]] = {}
    deliver = MatrixChannel.deliver

    async def homeserver_back_later() -> None:
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(private_homeserver.start)

    async def deliver_into_an_outage(self, packet, recipient, key):  # type: ignore[no-untyped-def]
        if not outage:
            await asyncio.to_thread(private_homeserver.stop)
            outage["restart"] = asyncio.run_coroutine_threadsafe(
                homeserver_back_later(), test_loop)
        return await deliver(self, packet, recipient, key)

    monkeypatch.setattr(MatrixChannel, "deliver", deliver_into_an_outage)
    await coord.send(room, "!send", thread_root=root)
    await wait_for(lambda: bool(outage), timeout=30, what="the delivery job starting delivery")
    with session_scope(desk.bot.config.engine) as session:
        assert get_referral(session, referral_id).state is Status.REQUESTED
    await asyncio.wrap_future(outage["restart"])

    dm = await join_invite(cardio)
    packet = f"Referral {referral_id}.pdf"
    await wait_for(lambda: [r for r in cardio.received if r.room_id == dm and r.body == packet],
                   timeout=120, what="the packet after the outage")
    await wait_for(lambda: any("was delivered to Ravi Okafor" in r.body
                               for r in in_thread(coord, desk.user_id, room, root)),
                   timeout=60, what="delivered in the referrer's thread")
    await asyncio.sleep(3)  # room for anything that would arrive twice

    assert len([r for r in cardio.received if r.room_id == dm and r.body == packet]) == 1
    said = [r.body for r in in_thread(coord, desk.user_id, room, root)]
    assert len([b for b in said if b.startswith(f"{referral_id} sent to")]) == 1
    assert len([b for b in said if "was delivered to Ravi Okafor" in b]) == 1
    assert not [b for b in said if "could not be delivered" in b]
    with session_scope(desk.bot.config.engine) as session:
        case = get_referral(session, referral_id)
        assert case.state is Status.REQUESTED
        assert "delivered" in [s.code for s in business_statuses(session, referral_id)]
