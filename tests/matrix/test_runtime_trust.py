"""Device trust: first-seen keys are recorded; a device whose keys change is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from curbside.database import session_scope
from curbside.matrix.bot import Bot
from curbside.matrix.models import MatrixDeviceRecord
from curbside.matrix.trust import DeviceTrust
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for

pytestmark = pytest.mark.homeserver


async def test_a_device_whose_keys_change_is_blacklisted(homeserver, tmp_path, unique):
    alice = await MatrixUser.create(homeserver, f"alice{unique}")
    setup = await bot_setup(homeserver, tmp_path, f"bot{unique}")
    bot = Bot(setup.account, setup.config)
    await bot.start()
    try:
        room_id = await alice.create_encrypted_room([setup.account.user_id])
        await alice.wait_joined(room_id, setup.account.user_id, bot.client.device_id)
        ping = await alice.send(room_id, "!ping")
        await wait_for(lambda: alice.replies_to(ping, setup.account.user_id), what="pong")

        def record() -> MatrixDeviceRecord | None:
            with session_scope(setup.config.engine) as session:
                return session.scalars(
                    select(MatrixDeviceRecord).where(
                        MatrixDeviceRecord.user_id == alice.user_id,
                        MatrixDeviceRecord.device_id == alice.client.device_id,
                    )
                ).one_or_none()

        first_seen = await wait_for(record, what="alice's device to be recorded")
        assert first_seen.ed25519 == alice.client.olm.account.identity_keys["ed25519"]
        assert not first_seen.blacklisted

        # The recorded identity no longer matches what the homeserver serves
        # for that device id (as after a key swap by an impersonator).
        with session_scope(setup.config.engine) as session:
            row = session.merge(first_seen)
            row.curve25519 = "A" * 43
        DeviceTrust(bot.client, setup.config.engine, bot.runtime.store).review([alice.user_id])

        device = bot.client.device_store[alice.user_id][alice.client.device_id]
        assert bot.client.olm.is_device_blacklisted(device)
        refreshed = record()
        assert refreshed is not None and refreshed.blacklisted
    finally:
        await bot.stop()
        await alice.close()
