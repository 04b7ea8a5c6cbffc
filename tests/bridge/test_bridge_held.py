"""A fax for a clinician with no chat with the number yet waits for them.

The puppet opens a DM and invites the owner, but posts nothing until the
owner has joined — so the room key of its first message is shared with the
owner's devices — then delivers the fax once: on the join seen live, or at
the next start when the owner joined while the bridge was down.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bridge.bridge import Bridge
from bridge.store import Held
from curbside.database import session_scope
from curbside.matrix.models import MatrixOutboxMessage
from fax_gateway import Owner, OwnerKind
from tests.bridge.harness import World, bridge_world, files, notices
from tests.support.documents import make_pdf
from tests.support.matrix_testkit import MatrixUser, wait_for

NUMBER = "+13125550103"


async def _held_fax(world: World, owner: MatrixUser, key: str) -> Held:
    """A fax received on NUMBER, owned by ``owner``, until it is held for them."""
    world.gateway.inbox.router.set_route(NUMBER, Owner(OwnerKind.MATRIX_USER, owner.user_id))
    world.gateway.submit(make_pdf(2), NUMBER, idempotency_key=key, actor="@coordinator:x")

    def held() -> list[Held]:
        with session_scope(world.engine) as session:
            return world.bridge.store.held(session)

    [item] = await wait_for(held, timeout=120, what="the fax to be held")
    assert item.owner_id == owner.user_id
    await wait_for(lambda: item.room_id in owner.client.invited_rooms, what="the invite")
    with session_scope(world.engine) as session:
        queued = session.scalars(select(MatrixOutboxMessage).where(
            MatrixOutboxMessage.room_id == item.room_id)).all()
    assert queued == []  # nothing posted while the owner is only invited
    return item


def _delivered(world: World, owner: MatrixUser, room_id: str) -> bool:
    puppet_id = world.puppet_id(NUMBER)
    return bool(files(owner, room_id, puppet_id)) and \
        bool(notices(owner, room_id, puppet_id, "— 2 pages"))


async def test_the_first_fax_waits_for_the_owner_to_join_and_arrives_once(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        lee = await world.clinician("lee")
        item = await _held_fax(world, lee, "held-live")
        await lee.client.join(item.room_id)
        await wait_for(lambda: _delivered(world, lee, item.room_id), timeout=60,
                       what="the held fax after the join")
        assert len(files(lee, item.room_id, world.puppet_id(NUMBER))) == 1
        assert all(f.event.decrypted for f in files(lee, item.room_id, world.puppet_id(NUMBER)))
        with session_scope(world.engine) as session:
            assert world.bridge.store.held(session) == []
        assert await world.bridge.release() == 0  # a later trigger finds nothing


async def test_a_join_while_the_bridge_was_down_releases_the_fax_at_start(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        lee = await world.clinician("lee")
        item = await _held_fax(world, lee, "held-restart")
        await world.bridge.stop()
        await lee.client.join(item.room_id)
        world.bridge = Bridge(world.config, world.gateway)
        await world.bridge.start()
        await wait_for(lambda: _delivered(world, lee, item.room_id), timeout=60,
                       what="the held fax after the restart")
        assert len(files(lee, item.room_id, world.puppet_id(NUMBER))) == 1
        with session_scope(world.engine) as session:
            assert world.bridge.store.held(session) == []
