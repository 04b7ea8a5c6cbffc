"""Scenario: the desk is SIGKILLed twice while sending a referral packet over Matrix.

1. after the packet was queued in the outbox but before the delivery job recorded
   the attempt as accepted — the restarted delivery job delivers the pending
   attempt again (a new upload, the same outbox key);
2. after the homeserver accepted the packet but before the outbox marked it
   sent and ran the ``referral-packet`` hook — the restarted outbox sends the
   row again under its fixed transaction id.

Afterwards the cardiologist has exactly one packet in the DM, with one
"new referral" post in its thread, and the coordinator's thread says
"delivered" once.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from curbside.database import session_scope
from referral.cases import business_statuses
from referral.models import DeliveryAttempt
from tests.crash.desk_scenario import desk_scenario
from tests.referral_desk.desk_world import in_thread, join_invite
from tests.support.matrix_testkit import wait_for

pytestmark = pytest.mark.homeserver

SETTLE = 3.0  # seconds left for anything that would arrive twice


async def test_packet_reaches_the_recipient_once_across_two_kills(
    homeserver, tmp_path, unique, db_url
) -> None:
    async with desk_scenario(homeserver, tmp_path, unique,
                             ["packet-queued", "packet-sent"], db_url) as world:
        cardio = world.cardiologist
        referral_id, root = await world.send_referral(cardio.user_id)

        await world.desk.restart_after_kill_at("packet-queued")
        await world.desk.restart_after_kill_at("packet-sent")

        dm = await join_invite(cardio)
        packet_body = f"Referral {referral_id}.pdf"

        def packets() -> list:
            return [r for r in cardio.received if r.room_id == dm and r.body == packet_body]

        await wait_for(lambda: world.said_in_thread(root, "was delivered to Ravi Okafor"),
                       timeout=60, what="'delivered' in the coordinator's thread")
        await wait_for(packets, timeout=60, what="the packet in the DM")
        await asyncio.sleep(SETTLE)

        found = packets()
        assert len(found) == 1, f"{len(found)} packets in the recipient's DM"
        packet = found[0]
        packet_thread = packet.event.event_id
        await wait_for(lambda: in_thread(cardio, world.desk_id, dm, packet_thread), timeout=30,
                       what="the referral's post in the packet's thread")
        assert len(world.said_in_thread(root, "was delivered to Ravi Okafor")) == 1
        assert len(world.said_in_thread(root, f"{referral_id} sent to")) == 1
        new_referral = [r for r in in_thread(cardio, world.desk_id, dm, packet_thread)
                        if r.body.startswith(f"New routine referral {referral_id}")]
        assert len(new_referral) == 1
        with session_scope(world.engine) as session:
            attempt = session.scalars(select(DeliveryAttempt).where(
                DeliveryAttempt.referral_id == referral_id)).one()
            assert (attempt.status, attempt.provider_ref) == (
                "delivered", f"{dm} {packet.event.event_id}")
            assert [s.code for s in business_statuses(session, referral_id)] == ["delivered"]
