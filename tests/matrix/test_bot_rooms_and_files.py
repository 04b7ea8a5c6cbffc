"""Scenarios: encrypted attachments, bot-created rooms, and the PHI guard."""

from __future__ import annotations

import nio
import pytest
from nio.crypto.attachments import decrypt_attachment

from curbside.matrix.bot import Bot
from curbside.matrix.commands import command
from curbside.matrix.content import in_thread
from curbside.matrix.context import Context
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for

pytestmark = pytest.mark.homeserver

REPORT = b"%PDF-1.4 referral letter for a patient"


class ReportBot(Bot):
    @command("report", help="send the referral letter as an encrypted file")
    async def report(self, ctx: Context) -> None:
        message = await ctx.upload_file(REPORT, "letter.pdf", "application/pdf")
        ctx.send_phi(ctx.event.room_id, in_thread(message, ctx.event))


@pytest.fixture
async def alice(homeserver, unique):
    user = await MatrixUser.create(homeserver, f"alice{unique}")
    yield user
    await user.close()


@pytest.fixture
async def bot(homeserver, tmp_path, unique):
    setup = await bot_setup(homeserver, tmp_path, f"bot{unique}")
    bot = ReportBot(setup.account, setup.config)
    await bot.start()
    yield bot
    await bot.stop()


async def test_bot_sends_an_encrypted_file_the_clinician_can_open(alice, bot):
    room_id = await alice.create_encrypted_room([bot.account.user_id])
    await alice.wait_joined(room_id, bot.account.user_id, bot.client.device_id)
    ask = await alice.send(room_id, "!report")

    replies = await wait_for(lambda: alice.replies_to(ask, bot.account.user_id), what="the file")

    message = replies[0].content
    assert message["msgtype"] == "m.file" and "url" not in message
    info = message["file"]
    downloaded = await alice.client.download(mxc=info["url"])
    assert isinstance(downloaded, nio.MemoryDownloadResponse)
    assert downloaded.body != REPORT, "the homeserver must only hold ciphertext"
    plain = decrypt_attachment(downloaded.body, info["key"]["k"], info["hashes"]["sha256"],
                               info["iv"])
    assert plain == REPORT


async def test_rooms_a_bot_creates_are_encrypted_from_the_start(alice, bot):
    room_id = await bot.create_room(name="Referral 17", invite=[alice.user_id])
    await wait_for(lambda: room_id in alice.client.invited_rooms, what="the invite")
    assert isinstance(await alice.client.join(room_id), nio.JoinResponse)
    await wait_for(lambda: room_id in alice.client.rooms, what="the joined room")

    state = await alice.client.room_get_state_event(room_id, "m.room.encryption")
    assert isinstance(state, nio.RoomGetStateEventResponse)
    assert state.content["algorithm"] == "m.megolm.v1.aes-sha2"


async def test_bot_downloads_and_decrypts_a_file_it_is_sent(alice, bot, tmp_path):
    room_id = await alice.create_encrypted_room([bot.account.user_id])
    await alice.wait_joined(room_id, bot.account.user_id, bot.client.device_id)
    seen: list[bytes] = []

    async def capture(ctx: Context) -> None:
        if ctx.event.msgtype == "m.file":
            seen.append(await ctx.download_file())

    original = bot._route

    async def route(ctx: Context) -> None:
        await capture(ctx)
        await original(ctx)

    bot.runtime._handle = route
    upload, keys = await alice.client.upload(
        lambda *_: REPORT, content_type="application/octet-stream", encrypt=True,
        filesize=len(REPORT),
    )
    assert isinstance(upload, nio.UploadResponse) and keys is not None
    keys["url"] = upload.content_uri
    await alice.client.room_send(
        room_id, "m.room.message",
        {"msgtype": "m.file", "body": "scan.pdf", "file": keys},
        ignore_unverified_devices=True,
    )
    await wait_for(lambda: seen, what="the bot to read the file")
    assert seen == [REPORT]
