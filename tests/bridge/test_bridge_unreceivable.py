"""Faxes whose owner cannot receive them are handed to the operator, not dropped.

Real Synapse with the bridge, a real T.30 call over the loopback line: a
number routed to a room that has no portal for it, and a number whose owner
left the chat with it. Each fax ends in the gateway's ledger as "operator"
(the referral desk posts those into the operator fax inbox room: see
tests/referral_desk/test_operator_fax_inbox.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nio

from fax_gateway import Disposition, Owner, OwnerKind
from tests.bridge.harness import bridge_world
from tests.support.documents import make_pdf
from tests.support.matrix_testkit import wait_for

ROOM_LINE = "+13125550163"
LEFT_LINE = "+13125550164"


def operator_entries(world, inbound_id: str) -> list:  # type: ignore[no-untyped-def,type-arg]
    return [d for d in world.gateway.dispositions_after(0)
            if d.inbound_id == inbound_id and d.disposition is Disposition.OPERATOR]


async def test_a_room_owned_number_without_a_portal_goes_to_the_operator(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        await asyncio.to_thread(
            world.gateway.assign_route, ROOM_LINE, Owner(OwnerKind.ROOM, "!gone:curbside.test"),
            actor="@ops:curbside.test", reason="test")
        await asyncio.to_thread(world.gateway.submit, make_pdf(1), ROOM_LINE,
                                idempotency_key="room-line", actor="@lee:curbside.test")
        [received] = await wait_for(lambda: world.gateway.received_after(0), timeout=120,
                                    what="the fax in the inbox")
        [entry] = await wait_for(lambda: operator_entries(world, received.id), timeout=30,
                                 what="the operator hand-over")
        assert entry.reason == "its owner (room) has no portal for the number"
        assert world.gateway.disposition_counts() == {Disposition.OPERATOR: 1}


async def test_a_fax_for_an_owner_who_left_the_chat_goes_to_the_operator(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        okafor = await world.clinician("okafor")
        puppet_id = world.puppet_id(LEFT_LINE)
        room = await world.open_portal(okafor, LEFT_LINE)
        command = await okafor.send(room, f"!fax assign {LEFT_LINE} {okafor.user_id}")
        await wait_for(lambda: okafor.replies_to(command, puppet_id), what="the assign reply")
        assert isinstance(await okafor.client.room_leave(room), nio.RoomLeaveResponse)
        puppet = world.bridge.puppets[puppet_id]
        assert await puppet.has_left(room, okafor.user_id)

        await asyncio.to_thread(world.gateway.submit, make_pdf(1), LEFT_LINE,
                                idempotency_key="left-line", actor="@lee:curbside.test")
        [received] = await wait_for(lambda: world.gateway.received_after(0), timeout=120,
                                    what="the fax in the inbox")
        [entry] = await wait_for(lambda: operator_entries(world, received.id), timeout=30,
                                 what="the operator hand-over")
        assert entry.reason == "its owner left the portal"
        assert Disposition.HELD not in world.gateway.disposition_counts()


GHOST_LINE = "+13125550165"


async def test_a_number_routed_to_a_user_who_does_not_exist_goes_to_the_operator(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        await asyncio.to_thread(
            world.gateway.assign_route, GHOST_LINE,
            Owner(OwnerKind.MATRIX_USER, "@nobody-here:curbside.test"),
            actor="@ops:curbside.test", reason="test")
        await asyncio.to_thread(world.gateway.submit, make_pdf(1), GHOST_LINE,
                                idempotency_key="ghost-line", actor="@lee:curbside.test")
        [received] = await wait_for(lambda: world.gateway.received_after(0), timeout=120,
                                    what="the fax in the inbox")
        [entry] = await wait_for(lambda: operator_entries(world, received.id), timeout=60,
                                 what="the operator hand-over")
        assert entry.reason == "its owner (matrix_user) has no portal for the number"
