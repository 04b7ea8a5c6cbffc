"""Element's own crypto stack talks to Curbside's devices.

The counterpart is ``element_client/client.mjs``: matrix-js-sdk with the rust
crypto (matrix-sdk-crypto-wasm) that Element ships, cross-signing and secret
storage bootstrapped, and device isolation set to
``OnlySignedDevicesIsolationMode`` -- current Element's "exclude insecure
devices". In that mode Element withholds room keys from, and refuses to
decrypt messages sent by, any device its owner has not cross-signed. Each
scenario shows that strictness first (so a pass cannot come from a lax mode),
then shows Curbside's cross-signed devices getting through it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import nio
import pytest

from curbside.database import make_engine, migrate
from curbside.homeserver import EmbeddedSynapse
from curbside.matrix.bot import Bot
from curbside.matrix.commands import Arg, command
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.cross_signing import CrossSigningSeeds, ensure_cross_signed
from curbside.matrix.events import IncomingEvent
from curbside.matrix.rooms import encryption_state
from curbside.phi import decode_master_key, load_cipher, new_master_key

from .element_driver import ElementClient, ElementMessage, node_tools_missing

pytestmark = [
    pytest.mark.homeserver,
    pytest.mark.skipif(
        node_tools_missing() is not None,
        reason=f"Element interop needs Node.js and npm: {node_tools_missing()}",
    ),
]

SYNC_TIMEOUT_MS = 500
WAIT_SECONDS = 30.0
BOT_PASSWORD = "bot-password"
# Synthetic, not patient data: enough bytes to span many AES-CTR blocks.
ATTACHMENT = b"Curbside interop attachment, not patient data.\n" * 2048


class AttachmentBot(Bot):
    """A Curbside bot with one extra command, to exercise encrypted files."""

    def __init__(self, account: BotAccount, config: RuntimeConfig) -> None:
        super().__init__(account, config)
        self.attach_requests: list[IncomingEvent] = []

    @command("attach", help="send back a test file named <name>", args=[Arg("name")])
    async def attach(self, ctx: Context, name: str) -> None:
        self.attach_requests.append(ctx.event)
        content = await ctx.upload_file(ATTACHMENT, name, "text/plain")
        ctx.send_phi(ctx.event.room_id, content)


@pytest.fixture
async def element(tmp_path: Path) -> AsyncIterator[ElementClient]:
    client = await ElementClient.start(tmp_path / "element-client.stderr")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def bot(
    homeserver: EmbeddedSynapse, tmp_path: Path, unique: str
) -> AsyncIterator[AttachmentBot]:
    """A started bot on its own SQLite database; its device is cross-signed at start."""
    user_id = await homeserver.register_user(f"interop-bot-{unique}", BOT_PASSWORD)
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine, AttachmentBot.version_locations())
    config = RuntimeConfig(
        homeserver_url=homeserver.url,
        store_dir=tmp_path / "bot-store",
        pickle_key=secrets.token_urlsafe(24),
        engine=engine,
        cipher=load_cipher(engine, decode_master_key(new_master_key())),
    )
    bot = AttachmentBot(BotAccount(user_id, BOT_PASSWORD, "Interop bot"), config)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
        engine.dispose()


async def nio_login(
    homeserver: EmbeddedSynapse, user_id: str, password: str, store: Path
) -> nio.AsyncClient:
    """A plain matrix-nio E2EE device, its keys published, first sync done."""
    store.mkdir()
    client = nio.AsyncClient(
        homeserver.url,
        user_id,
        store_path=str(store),
        config=nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
    )
    response = await client.login(password, device_name="plain nio device")
    assert isinstance(response, nio.LoginResponse), response
    await nio_sync(client, full_state=True)
    return client


async def nio_sync(client: nio.AsyncClient, *, full_state: bool = False) -> nio.SyncResponse:
    """One sync plus the key bookkeeping nio leaves to its caller."""
    response = await client.sync(timeout=SYNC_TIMEOUT_MS, full_state=full_state)
    assert isinstance(response, nio.SyncResponse), response
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    return response


async def nio_wait_for_event(client: nio.AsyncClient, room_id: str, event_id: str) -> nio.Event:
    """Sync until ``event_id`` arrives in ``room_id``; nio decrypts it if it holds the key."""
    for _ in range(int(WAIT_SECONDS * 1000 / SYNC_TIMEOUT_MS)):
        response = await nio_sync(client)
        room = response.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if event.event_id == event_id:
                return event
    raise AssertionError(f"{client.user_id} never received {event_id} in {room_id}")


async def nio_send_text(client: nio.AsyncClient, room_id: str, body: str) -> str:
    """Send an encrypted m.text from a nio device (keys go to all of Element's devices)."""
    await nio_sync(client)
    response = await client.room_send(
        room_id,
        "m.room.message",
        {"msgtype": "m.text", "body": body},
        ignore_unverified_devices=True,
    )
    assert isinstance(response, nio.RoomSendResponse), response
    return str(response.event_id)


async def nio_create_encrypted_room(client: nio.AsyncClient, invite: str) -> str:
    response = await client.room_create(
        invite=[invite],
        initial_state=[encryption_state()],
    )
    assert isinstance(response, nio.RoomCreateResponse), response
    return str(response.room_id)


def clean(message: ElementMessage) -> bool:
    """Decrypted by Element with no shield at all: what a clinician sees as a normal message."""
    return (
        not message.decryption_failed
        and message.shield_colour == "NONE"
        and message.shield_reason is None
    )


async def test_element_shares_keys_only_once_nio_device_is_cross_signed(
    homeserver: EmbeddedSynapse, element: ElementClient, tmp_path: Path, unique: str
) -> None:
    element_user = await homeserver.register_user(f"clinician-{unique}", "element-password")
    nio_user = await homeserver.register_user(f"device-{unique}", "nio-password")
    nio_client = await nio_login(homeserver, nio_user, "nio-password", tmp_path / "nio")
    try:
        login = await element.login(homeserver.url, element_user, "element-password")
        assert login["cross_signing_ready"] and login["secret_storage_ready"]

        room_id = await nio_create_encrypted_room(nio_client, element_user)
        await element.join(room_id)
        await element.wait_device(nio_user, nio_client.device_id, cross_signed=False)
        await nio_sync(nio_client)

        # Strict mode, device known but not cross-signed: no room key for it ...
        withheld = await element.send_text(room_id, "withheld from an unsigned device")
        assert isinstance(await nio_wait_for_event(nio_client, room_id, withheld), nio.MegolmEvent)
        # ... and what it sends is refused, though Element holds the key.
        refused = await nio_send_text(nio_client, room_id, "from an unsigned device")
        message = await element.wait_for_message(
            lambda m: m.event_id == refused and m.decryption_failed, what="refused message"
        )
        assert message.failure_reason == "UNSIGNED_SENDER_DEVICE"

        await ensure_cross_signed(nio_client, CrossSigningSeeds.generate(), password="nio-password")
        await element.wait_device(nio_user, nio_client.device_id, cross_signed=True)

        shared = await element.send_text(room_id, "shared with a cross-signed device")
        received = await nio_wait_for_event(nio_client, room_id, shared)
        assert isinstance(received, nio.RoomMessageText), received
        assert received.body == "shared with a cross-signed device"

        accepted = await nio_send_text(nio_client, room_id, "from a cross-signed device")
        message = await element.wait_for_message(
            lambda m: m.event_id == accepted and not m.decryption_failed, what="accepted message"
        )
        assert message.body == "from a cross-signed device"
        assert clean(message), message
    finally:
        await nio_client.close()


async def test_element_and_a_curbside_bot_exchange_encrypted_messages_and_files(
    homeserver: EmbeddedSynapse,
    element: ElementClient,
    bot: AttachmentBot,
    tmp_path: Path,
    unique: str,
) -> None:
    element_user = await homeserver.register_user(f"clinician-{unique}", "element-password")
    observer_user = await homeserver.register_user(f"observer-{unique}", "observer-password")
    # A plain nio device nobody cross-signed, in the same room: the control.
    observer = await nio_login(homeserver, observer_user, "observer-password", tmp_path / "obs")
    try:
        await element.login(homeserver.url, element_user, "element-password")
        room_id = await bot.create_room(name="Interop", invite=[element_user, observer_user])
        await element.join(room_id)
        joined = await observer.join(room_id)
        assert isinstance(joined, nio.JoinResponse), joined
        await element.wait_device(bot.account.user_id, bot.client.device_id, cross_signed=True)
        await element.wait_device(observer_user, observer.device_id, cross_signed=False)

        ping = await element.send_text(room_id, "!ping")
        pong = await element.wait_for_message(
            lambda m: m.sender == bot.account.user_id and (m.body or "").startswith("pong"),
            what="the bot's pong",
        )
        assert pong.encrypted and pong.msgtype == "m.notice"
        assert clean(pong), pong
        # Element's strict mode really is on: the unsigned device got no key.
        assert isinstance(await nio_wait_for_event(observer, room_id, ping), nio.MegolmEvent)

        await element.send_text(room_id, "!attach interop-letter.txt")
        sent_file = await element.wait_for_message(
            lambda m: m.sender == bot.account.user_id and m.msgtype == "m.file",
            what="the bot's file",
        )
        assert sent_file.has_file and clean(sent_file), sent_file
        [request] = bot.attach_requests
        assert request.encrypted and request.body == "!attach interop-letter.txt"

        downloaded = await element.download_file(room_id, sent_file.event_id)
        assert downloaded["body"] == "interop-letter.txt"
        assert downloaded["mimetype"] == "text/plain"
        assert downloaded["size"] == len(ATTACHMENT)
        assert downloaded["sha256"] == hashlib.sha256(ATTACHMENT).hexdigest()
    finally:
        await observer.close()
