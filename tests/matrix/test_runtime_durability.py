"""Scenarios: bots survive restarts of themselves and of the homeserver."""

from __future__ import annotations

import asyncio

import nio
import pytest
from sqlalchemy import select

from curbside.database import session_scope
from curbside.matrix.bot import Bot
from curbside.matrix.content import notice
from curbside.matrix.models import MatrixAccount, MatrixOutboxMessage
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for

pytestmark = pytest.mark.homeserver


@pytest.fixture
async def alice(homeserver, unique):
    user = await MatrixUser.create(homeserver, f"alice{unique}")
    yield user
    await user.close()


async def test_restart_restores_the_device_and_answers_nothing_twice(
    homeserver, tmp_path, unique, alice
):
    setup = await bot_setup(homeserver, tmp_path, f"bot{unique}")
    first = Bot(setup.account, setup.config)
    await first.start()
    device_id = first.client.device_id
    devices_before = await _device_ids(first)
    room_id = await alice.create_encrypted_room([setup.account.user_id])
    await alice.wait_joined(room_id, setup.account.user_id, device_id)
    before = await alice.send(room_id, "!ping")
    await wait_for(lambda: alice.replies_to(before, setup.account.user_id), what="first pong")
    await first.stop()

    second = Bot(setup.account, setup.config)
    await second.start()
    try:
        assert second.client.device_id == device_id
        assert await _device_ids(second) == devices_before, "a restart made a new device"
        after = await alice.send(room_id, "!ping")
        await wait_for(lambda: alice.replies_to(after, setup.account.user_id), what="second pong")
    finally:
        await second.stop()

    assert len(alice.replies_to(before, setup.account.user_id)) == 1
    with session_scope(setup.config.engine) as session:
        row = session.get_one(MatrixAccount, setup.account.user_id)
        assert "access_token" not in row.access_token and row.sync_token
        assert row.cross_signing_seeds is not None


async def test_bot_keeps_working_across_a_homeserver_restart(homeserver, tmp_path, unique, alice):
    setup = await bot_setup(homeserver, tmp_path, f"bot{unique}")
    bot = Bot(setup.account, setup.config)
    await bot.start()
    try:
        room_id = await alice.create_encrypted_room([setup.account.user_id])
        await alice.wait_joined(room_id, setup.account.user_id, bot.client.device_id)

        await asyncio.to_thread(homeserver.restart)

        ping = await alice.send(room_id, "!ping")
        replies = await wait_for(
            lambda: alice.replies_to(ping, setup.account.user_id), timeout=60, what="pong"
        )
        assert replies[0].body.startswith("pong")
    finally:
        await bot.stop()


async def test_outbox_row_resent_after_a_crash_appears_once(homeserver, tmp_path, unique, alice):
    """A crash after the homeserver accepted a send but before we marked it sent:
    the restart resends with the row's transaction id and the homeserver keeps one event."""
    setup = await bot_setup(homeserver, tmp_path, f"bot{unique}")
    bot = Bot(setup.account, setup.config)
    await bot.start()
    room_id = await alice.create_encrypted_room([setup.account.user_id])
    await alice.wait_joined(room_id, setup.account.user_id, bot.client.device_id)
    await bot.stop()
    store = bot.runtime.store
    with session_scope(setup.config.engine) as session:
        txn_id = store.enqueue(session, room_id, notice("sent before the crash"), "m.room.message")
        login = store.load_login(session)
    assert login is not None

    # What the crashed process got out before dying: the same device sent this txn id.
    raw = nio.AsyncClient(homeserver.url, login.user_id, device_id=login.device_id)
    raw.restore_login(login.user_id, login.device_id, login.access_token)
    try:
        method, path, data = nio.Api.room_send(
            login.access_token, room_id, "m.room.message", notice("sent before the crash"), txn_id
        )
        early = await raw._send(nio.RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(early, nio.RoomSendResponse), early
    finally:
        await raw.close()

    restarted = Bot(setup.account, setup.config)
    await restarted.start()
    try:
        await wait_for(lambda: _sent_event_id(setup, txn_id), what="redelivery")
        assert _sent_event_id(setup, txn_id) == early.event_id
        ping = await alice.send(room_id, "!ping")
        await wait_for(lambda: alice.replies_to(ping, setup.account.user_id), what="pong")
    finally:
        await restarted.stop()
    assert [r.body for r in alice.received].count("sent before the crash") == 1


async def _device_ids(bot: Bot) -> set[str]:
    devices = await bot.client.devices()
    assert isinstance(devices, nio.DevicesResponse)
    return {d.id for d in devices.devices}


def _sent_event_id(setup, txn_id: str) -> str | None:
    with session_scope(setup.config.engine) as session:
        return session.scalars(
            select(MatrixOutboxMessage.sent_event_id).where(MatrixOutboxMessage.txn_id == txn_id)
        ).one()
