"""Scenario: a message arrives before its room key; the bot recovers it once."""

from __future__ import annotations

import nio
import pytest

from curbside.matrix.bot import Bot
from curbside.matrix.rooms import MEGOLM
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for

pytestmark = pytest.mark.homeserver


async def test_undecryptable_command_is_answered_once_its_key_arrives(
    homeserver, tmp_path, unique
):
    alice = await MatrixUser.create(homeserver, f"alice{unique}")
    setup = await bot_setup(homeserver, tmp_path, f"bot{unique}", notice_after=1.0)
    bot = Bot(setup.account, setup.config)
    await bot.start()
    bot_id, bot_device = setup.account.user_id, bot.client.device_id
    try:
        room_id = await alice.create_encrypted_room([bot_id])
        await alice.wait_joined(room_id, bot_id, bot_device)

        # Alice's client withholds the room key from the bot's device …
        device = alice.client.device_store[bot_id][bot_device]
        alice.client.blacklist_device(device)
        await alice.client.share_group_session(room_id, ignore_unverified_devices=True)
        outbound = alice.client.olm.outbound_group_sessions[room_id]
        session_id, session_key = outbound.id, outbound.session_key
        ping = await alice.send(room_id, "!ping")

        # … so the bot tells her, in the thread of her message, that it could not read it.
        notices = await wait_for(lambda: alice.replies_to(ping, bot_id), what="the notice")
        assert "could not decrypt" in notices[0].body
        assert notices[0].content["m.mentions"] == {"user_ids": [alice.user_id]}

        # The bot asked her device for the key.
        await wait_for(
            lambda: [r for r in alice.key_requests
                     if r.session_id == session_id and r.sender == bot_id],
            what="the bot's room key request",
        )

        # The key arrives late (as a delayed to-device message would).
        alice.client.unblacklist_device(device)
        await alice.client.keys_claim({bot_id: [bot_device]})
        olm_session = alice.client.olm.session_store.get(device.curve25519)
        payload = alice.client.olm._olm_encrypt(
            olm_session, device, "m.room_key",
            {"algorithm": MEGOLM, "room_id": room_id, "session_id": session_id,
             "session_key": session_key},
        )
        await alice.client.to_device(
            nio.ToDeviceMessage("m.room.encrypted", bot_id, bot_device, payload)
        )

        def pongs() -> list:
            return [r for r in alice.replies_to(ping, bot_id) if r.body.startswith("pong")]

        await wait_for(pongs, what="the pong after the key arrived")
        later = await alice.send(room_id, "!ping")
        await wait_for(lambda: alice.replies_to(later, bot_id), what="a later pong")
        assert len(pongs()) == 1
        assert len(alice.replies_to(ping, bot_id)) == 2  # one notice, one pong
    finally:
        await bot.stop()
        await alice.close()
