"""A fax referral whose delivery failed is resent with !resend: same sealed packet,
a new attempt, the number shown first — then delivered over the loopback line.

Real Synapse and E2EE; the first fax job is cancelled at the gateway before
any worker runs (as an operator would for a dead line), which the desk hears
as a failed delivery; the resend goes through the real spandsp T.30 call.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from curbside.database import session_scope
from referral.cases import get_referral
from referral.models import DeliveryAttempt
from referral.states import Status
from tests.referral_desk.conftest import World
from tests.referral_desk.desk_world import ask, thread_says
from tests.referral_desk.test_answers_and_refusals import sent_referral

pytestmark = pytest.mark.homeserver

PRACTICE_FAX = "+13125550109"


def attempts(world: World, referral_id: str) -> list[DeliveryAttempt]:
    with session_scope(world.desk.setup.config.engine) as session:
        rows = list(session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.referral_id == referral_id).order_by(DeliveryAttempt.attempt_no)))
        session.expunge_all()
        return rows


async def test_a_failed_fax_referral_is_resent_with_the_same_packet(world: World) -> None:
    desk, coord, room = world.desk, world.coordinator, world.room
    referral_id, root = await sent_referral(world, PRACTICE_FAX, "Lakeside Cardiology")
    await thread_says(coord, desk, room, root, "queued at the fax gateway")
    [first] = attempts(world, referral_id)
    await asyncio.to_thread(desk.gateway.cancel, str(first.provider_ref), actor="@ops:test",
                            reason="the line is out of order")
    failed = await thread_says(coord, desk, room, root, "could not be delivered")
    assert f"!resend {referral_id} faxes it again" in failed.body

    # Asked to resend, the desk shows the number it will dial and waits for a confirmation.
    shown = await ask(coord, desk, room, f"!resend {referral_id}", root)
    assert shown.startswith(f"{referral_id} will be faxed again to +1 312 555 0109 "
                            "(Lakeside Cardiology)")
    assert f"!resend {referral_id} confirm" in shown
    assert len(attempts(world, referral_id)) == 1

    confirmed = await ask(coord, desk, room, f"!resend {referral_id} confirm", root)
    assert confirmed.startswith(f"Resending {referral_id} to +1 312 555 0109")
    again = await ask(coord, desk, room, f"!resend {referral_id}", root)
    assert "still being delivered" in again

    stop = asyncio.Event()
    worker = asyncio.create_task(desk.gateway.worker("resend-test").run(stop, idle=0.1))
    try:
        await thread_says(coord, desk, room, root,
                          f"{referral_id} was delivered to Lakeside Cardiology by fax")
    finally:
        stop.set()
        await worker

    first, second = attempts(world, referral_id)
    assert (first.status, second.status) == ("failed", "delivered")
    assert second.attempt_no == 2 and second.idempotency_key != first.idempotency_key
    assert second.packet_sha256 == first.packet_sha256  # the same sealed packet
    assert second.provider_ref != first.provider_ref
    assert desk.gateway.job(str(second.provider_ref)).pages == \
        desk.gateway.job(str(first.provider_ref)).pages
    with session_scope(desk.setup.config.engine) as session:
        case = get_referral(session, referral_id)
        assert case.state is Status.REQUESTED and case.packet_sha256 == first.packet_sha256
    [received] = desk.gateway.received_after(0)  # only the resent fax went over the line
    assert received.pages == desk.gateway.job(str(second.provider_ref)).pages
    done = await ask(coord, desk, room, f"!resend {referral_id}", root)
    assert "was delivered; there is nothing to resend" in done
