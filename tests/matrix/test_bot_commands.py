"""Scenarios: a clinician talks to a bot in an encrypted room."""

from __future__ import annotations

import asyncio
import threading

import nio
import pytest

from curbside.matrix.bot import Bot
from curbside.matrix.commands import command
from curbside.matrix.context import Context
from tests.support.matrix_testkit import MatrixUser, bot_setup, eventually, wait_for

pytestmark = pytest.mark.homeserver


@pytest.fixture
async def alice(homeserver, unique):
    user = await MatrixUser.create(homeserver, f"alice{unique}")
    yield user
    await user.close()


@pytest.fixture
async def bot_in_room(homeserver, tmp_path, unique, alice):
    setup = await bot_setup(homeserver, tmp_path, f"bot{unique}")
    bot = Bot(setup.account, setup.config)
    await bot.start()
    room_id = await alice.create_encrypted_room([setup.account.user_id])
    await alice.wait_joined(room_id, setup.account.user_id, bot.client.device_id)
    yield bot, room_id
    await bot.stop()


async def test_ping_round_trip_in_encrypted_room(alice, bot_in_room):
    bot, room_id = bot_in_room
    ping = await alice.send(room_id, "!ping")

    replies = await wait_for(lambda: alice.replies_to(ping, bot.account.user_id), what="pong")

    reply = replies[0]
    assert reply.event.decrypted, "the bot's reply must arrive end-to-end encrypted"
    assert reply.content["msgtype"] == "m.notice"
    assert reply.body.startswith("pong (") and reply.body.endswith(" ms)")
    assert "formatted_body" in reply.content
    # A one-to-one chat: the answer is a reply in the main timeline, not a new thread.
    assert reply.content["m.relates_to"] == {"m.in_reply_to": {"event_id": ping}}


async def test_reply_lands_in_the_thread_the_command_came_from(alice, bot_in_room):
    bot, room_id = bot_in_room
    root = await alice.send(room_id, "Case discussion: 54-year-old with chest pain")
    ping = await alice.send(room_id, "!ping", thread_root=root)

    replies = await wait_for(lambda: alice.replies_to(ping, bot.account.user_id), what="pong")

    relation = replies[0].content["m.relates_to"]
    assert relation["rel_type"] == "m.thread"
    assert relation["event_id"] == root
    assert relation["m.in_reply_to"]["event_id"] == ping


async def test_unknown_command_gets_a_suggestion(alice, bot_in_room):
    bot, room_id = bot_in_room
    typo = await alice.send(room_id, "!pnig")

    replies = await wait_for(lambda: alice.replies_to(typo, bot.account.user_id), what="answer")

    assert replies[0].body == "unknown command !pnig — did you mean !ping? Send !help"
    assert replies[0].content["m.mentions"] == {"user_ids": [alice.user_id]}


async def test_help_lists_every_declared_command(alice, bot_in_room):
    bot, room_id = bot_in_room
    ask = await alice.send(room_id, "!help")

    replies = await wait_for(lambda: alice.replies_to(ask, bot.account.user_id), what="help")

    assert "!ping" in replies[0].body and "!help" in replies[0].body
    assert "<code>!ping</code>" in replies[0].content["formatted_body"]


class CarefulBot(Bot):
    """Joins only when invited by its operator; has a command that takes a while."""

    operator = ""
    # A threading.Event: handlers run on handler threads, each in its own event
    # loop, so an asyncio primitive of the test's loop cannot wake them.
    release: threading.Event

    async def should_join(self, room_id: str, inviter: str | None) -> bool:
        return inviter == self.operator

    @command("think", help="answer after a while")
    async def think(self, ctx: Context) -> None:
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        ctx.reply("thought about it")


async def test_typing_notice_while_a_handler_works(homeserver, tmp_path, unique, alice):
    setup = await bot_setup(homeserver, tmp_path, f"careful{unique}")
    bot = CarefulBot(setup.account, setup.config)
    bot.operator, bot.release = alice.user_id, threading.Event()
    await bot.start()
    try:
        room_id = await alice.create_encrypted_room([bot.account.user_id])
        await alice.wait_joined(room_id, bot.account.user_id, bot.client.device_id)
        ask = await alice.send(room_id, "!think")

        await wait_for(
            lambda: any(bot.account.user_id in users for _, users in alice.typing),
            what="the bot to show it is typing",
        )
        bot.release.set()
        await wait_for(lambda: alice.replies_to(ask, bot.account.user_id), what="the answer")
        await wait_for(
            lambda: alice.typing and bot.account.user_id not in alice.typing[-1][1],
            what="typing to stop",
        )
    finally:
        await bot.stop()


async def test_the_join_policy_can_refuse_an_invite(homeserver, tmp_path, unique, alice):
    setup = await bot_setup(homeserver, tmp_path, f"careful{unique}")
    bot = CarefulBot(setup.account, setup.config)
    bot.operator = f"@someone-else:{homeserver.server_name}"
    await bot.start()
    try:
        room_id = await alice.create_encrypted_room([bot.account.user_id])

        async def refused() -> bool:
            member = await alice.client.room_get_state_event(
                room_id, "m.room.member", bot.account.user_id
            )
            return (
                isinstance(member, nio.RoomGetStateEventResponse)
                and member.content.get("membership") == "leave"
            )

        await eventually(refused, what="the bot to decline the invite")
    finally:
        await bot.stop()
