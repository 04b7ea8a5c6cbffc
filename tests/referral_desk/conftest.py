"""Fixtures: a running desk with a verified coordinator and cardiologist in rooms."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from fax_gateway import OwnerKind
from tests.referral_desk.desk_world import Desk, prepare_database, verify
from tests.support.fax_ledger import no_fax_vanished
from tests.support.matrix_testkit import MatrixUser, bot_setup


@dataclass
class World:
    desk: Desk
    coordinator: MatrixUser
    cardiologist: MatrixUser
    room: str  # the coordinator's encrypted room with the desk


@contextlib.asynccontextmanager
async def desk_world(homeserver, tmp_path, unique) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    """A running desk, a verified coordinator and cardiologist, on ``homeserver``."""
    setup = await bot_setup(homeserver, tmp_path, f"desk{unique}")
    env, gateway = prepare_database(setup)
    desk = await Desk.start(setup, env, gateway)
    coordinator = await MatrixUser.create(homeserver, f"coord{unique}")
    cardiologist = await MatrixUser.create(homeserver, f"cardio{unique}")
    verify(desk, (coordinator, "Dana Whitfield", "Family Medicine"),
           (cardiologist, "Ravi Okafor", "Cardiology"))
    try:
        room = await coordinator.create_encrypted_room([desk.user_id])
        await coordinator.wait_joined(room, desk.user_id, desk.bot.client.device_id)
        yield World(desk, coordinator, cardiologist, room)
        # The desk accounts for every fax it owns (the default owner of every number).
        await no_fax_vanished(gateway, (OwnerKind.REFERRAL_DESK,))
    finally:
        await desk.bot.stop()
        await coordinator.close()
        await cardiologist.close()
        await gateway.close()


@pytest.fixture
async def world(homeserver, tmp_path, unique) -> AsyncIterator[World]:
    async with desk_world(homeserver, tmp_path, unique) as world:
        yield world
