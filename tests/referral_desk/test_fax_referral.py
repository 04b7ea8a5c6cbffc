"""A coordinator refers by fax: the packet goes through the real fax gateway's
outbox, over the loopback line (a real spandsp T.30 call), and the outcome is
posted in the referral's thread and recorded on the referral."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from curbside.database import session_scope
from referral.cases import business_statuses
from referral.models import DeliveryAttempt, Disclosure
from tests.referral_desk.conftest import World
from tests.referral_desk.desk_world import thread_says
from tests.referral_desk.test_answers_and_refusals import sent_referral

pytestmark = pytest.mark.homeserver

PRACTICE_FAX = "+13125550108"


async def test_fax_referral_is_delivered_and_the_outcome_posted(world: World) -> None:
    desk, coord, room = world.desk, world.coordinator, world.room
    stop = asyncio.Event()
    worker = asyncio.create_task(desk.gateway.worker("desk-test").run(stop, idle=0.1))
    try:
        referral_id, root = await sent_referral(world, PRACTICE_FAX, "Beacon Cardiology")
        # The draft and the send confirmation name the number that will be dialled.
        draft = await thread_says(coord, desk, room, root, f"Draft {referral_id} for ")
        assert "Beacon Cardiology (fax +1 312 555 0108)" in draft.body
        sent = await thread_says(coord, desk, room, root, f"{referral_id} sent to ")
        assert "Beacon Cardiology (fax +1 312 555 0108) by fax" in sent.body

        await thread_says(coord, desk, room, root, "queued at the fax gateway")
        await thread_says(coord, desk, room, root,
                          f"{referral_id} was delivered to Beacon Cardiology by fax")
    finally:
        stop.set()
        await worker

    with session_scope(desk.setup.config.engine) as session:
        attempt = session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.referral_id == referral_id)
        ).one()
        assert (attempt.channel, attempt.status) == ("fax", "delivered")
        job = desk.gateway.job(str(attempt.provider_ref))
        assert job.idempotency_key == attempt.idempotency_key and job.pages
        assert [b.code for b in business_statuses(session, referral_id)] == ["delivered"]
        disclosure = session.scalars(
            select(Disclosure).where(Disclosure.referral_id == referral_id)).one()
        assert disclosure.recipient_address == f"fax {PRACTICE_FAX}"
    received = desk.gateway.received_after(0)
    assert [r.pages for r in received] == [job.pages]
