"""Scenario: the desk is SIGKILLed twice while taking a fax's verdict.

The packet goes by fax over the loopback line (the gateway's worker runs in
the test process, out of the kill's reach). The desk is killed

1. inside the ``fax-verdicts`` feed's transaction, after the "delivered"
   verdict was recorded and its post queued, before the commit — the
   restarted feed reads the change again from its kept cursor;
2. after the homeserver accepted the "delivered by fax" post, before the
   outbox marked it sent — the restarted outbox sends it again under its
   fixed transaction id.

Afterwards the loopback line has received the fax once, and the
coordinator's thread says "delivered by fax" once.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from curbside.database import session_scope
from referral.cases import business_statuses
from referral.models import DeliveryAttempt, Disclosure
from tests.crash.desk_scenario import desk_scenario
from tests.support.matrix_testkit import wait_for

pytestmark = pytest.mark.homeserver

PRACTICE_FAX = "+13125550108"
DELIVERED = "was delivered to Beacon Cardiology by fax"
SETTLE = 3.0  # seconds left for anything that would arrive twice


async def test_a_fax_verdict_is_posted_once_across_two_kills(
    homeserver, tmp_path, unique, db_url
) -> None:
    async with desk_scenario(homeserver, tmp_path, unique,
                             ["verdict-recorded", "verdict-posted"], db_url) as world:
        stop = asyncio.Event()
        worker = asyncio.create_task(world.gateway.worker("crash-test").run(stop, idle=0.1))
        try:
            referral_id, root = await world.send_referral(PRACTICE_FAX, "Beacon Cardiology")
            await world.desk.restart_after_kill_at("verdict-recorded", timeout=120)
            await world.desk.restart_after_kill_at("verdict-posted")

            await wait_for(lambda: world.said_in_thread(root, DELIVERED), timeout=60,
                           what="'delivered by fax' in the coordinator's thread")
            await asyncio.sleep(SETTLE)
        finally:
            stop.set()
            await worker

        assert len(world.said_in_thread(root, DELIVERED)) == 1
        assert len(world.said_in_thread(root, "queued at the fax gateway")) == 1
        assert not world.said_in_thread(root, "could not be delivered")
        received = world.gateway.received_after(0)
        assert len(received) == 1, "the loopback line received the fax once"
        with session_scope(world.engine) as session:
            attempt = session.scalars(select(DeliveryAttempt).where(
                DeliveryAttempt.referral_id == referral_id)).one()
            assert (attempt.channel, attempt.status) == ("fax", "delivered")
            assert [s.code for s in business_statuses(session, referral_id)] == ["delivered"]
            assert len(session.scalars(select(Disclosure).where(
                Disclosure.referral_id == referral_id)).all()) == 1
