"""Scenario helpers for the Matrix runtime tests: real users on real nio clients.

A :class:`MatrixUser` is a person at a Matrix client: their own E2EE device,
syncing in the background, collecting every room message they can read.
:func:`wait_for` waits on a condition with a deadline — tests never sleep and
hope.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nio

from curbside.database import KERNEL_VERSIONS, make_engine, migrate
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.rooms import encryption_state
from curbside.phi import decode_master_key, load_cipher, new_master_key

PASSWORD = "correct horse battery staple"


async def eventually(condition: Callable[[], Awaitable[Any]], timeout: float = 30.0,
                     what: str = "") -> Any:
    """Like :func:`wait_for` for a condition that must ask the homeserver."""
    deadline = time.monotonic() + timeout
    while not (value := await condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await asyncio.sleep(0.1)
    return value


async def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await asyncio.sleep(0.05)


@dataclass
class Received:
    room_id: str
    event: nio.Event

    @property
    def content(self) -> dict[str, Any]:
        return dict(self.event.source.get("content", {}))

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))


@dataclass
class MatrixUser:
    client: nio.AsyncClient
    received: list[Received] = field(default_factory=list)
    undecryptable: list[nio.MegolmEvent] = field(default_factory=list)
    typing: list[tuple[str, list[str]]] = field(default_factory=list)
    key_requests: list[nio.RoomKeyRequest] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    @classmethod
    async def create(cls, homeserver: Any, localpart: str) -> MatrixUser:
        user_id = await homeserver.register_user(localpart, PASSWORD)
        return await cls.login(homeserver.url, user_id, PASSWORD)

    @classmethod
    async def login(cls, url: str, user_id: str, password: str) -> MatrixUser:
        """Log in to an existing account (e.g. a login `curbside up` printed), new device."""
        config = nio.AsyncClientConfig(
            encryption_enabled=True, store=nio.store.SqliteMemoryStore, store_sync_tokens=False
        )
        client = nio.AsyncClient(url, user_id, config=config)
        localpart = user_id.split(":", 1)[0].lstrip("@")
        response = await client.login(password, device_name=f"{localpart} laptop")
        assert isinstance(response, nio.LoginResponse), response
        user = cls(client)
        client.add_event_callback(user._on_event, (nio.RoomMessage, nio.MegolmEvent))
        client.add_ephemeral_callback(user._on_typing, nio.TypingNoticeEvent)
        client.add_response_callback(user._on_sync, nio.SyncResponse)
        await client.keys_upload()
        await client.sync(timeout=0, full_state=True)
        user._task = asyncio.create_task(client.sync_forever(timeout=3000))
        return user

    async def _on_event(self, room: nio.MatrixRoom, event: nio.Event) -> None:
        if isinstance(event, nio.MegolmEvent):
            self.undecryptable.append(event)
        else:
            self.received.append(Received(room.room_id, event))

    async def _on_typing(self, room: nio.MatrixRoom, event: nio.TypingNoticeEvent) -> None:
        self.typing.append((room.room_id, list(event.users)))

    async def _on_sync(self, response: nio.SyncResponse) -> None:
        # nio does not pass other users' key requests to to-device callbacks.
        self.key_requests.extend(
            e for e in response.to_device_events if isinstance(e, nio.RoomKeyRequest)
        )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

    async def create_encrypted_room(self, invite: list[str]) -> str:
        response = await self.client.room_create(
            invite=invite, initial_state=[encryption_state()], preset=nio.RoomPreset.private_chat
        )
        assert isinstance(response, nio.RoomCreateResponse), response
        room_id = str(response.room_id)
        await wait_for(lambda: room_id in self.client.rooms, what="room to sync")
        return room_id

    async def wait_joined(self, room_id: str, user_id: str, device_id: str | None = None) -> None:
        """Wait until ``user_id`` joined and this client knows their device keys
        (``device_id``'s, or any device's when it is not known in advance)."""

        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            return bool(room and user_id in room.users and user_id not in room.invited_users)

        await wait_for(joined, what=f"{user_id} to join")
        self.client.olm.users_for_key_query.add(user_id)
        await self.client.keys_query()
        def known() -> bool:
            devices = self.client.device_store[user_id]
            return device_id in devices if device_id is not None else bool(list(devices))

        await wait_for(known, what="the bot's device keys")

    async def send(self, room_id: str, body: str, *, thread_root: str | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if thread_root is not None:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread_root},
            }
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(response, nio.RoomSendResponse), response
        return str(response.event_id)

    async def send_without_key(self, room_id: str) -> None:
        """An m.room.encrypted event of a megolm session whose key this client never
        shares: what a client that withholds room keys sends (undecryptable to all)."""
        client = self.client
        content = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg",
            "sender_key": client.olm.account.identity_keys["curve25519"],
            "device_id": client.device_id,
            "session_id": secrets.token_urlsafe(32),
        }
        url = (f"{client.homeserver}/_matrix/client/v3/rooms/{room_id}/send/"
               f"m.room.encrypted/{secrets.token_hex(8)}")
        async with (
            aiohttp.ClientSession() as http,
            http.put(url, json=content,
                     headers={"Authorization": f"Bearer {client.access_token}"}) as response,
        ):
            assert response.status == 200, await response.text()

    def replies_to(self, event_id: str, sender: str) -> list[Received]:
        """Messages from ``sender`` that reply to ``event_id``."""
        return [
            r
            for r in self.received
            if r.event.sender == sender
            and (r.content.get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id")
            == event_id
        ]


@dataclass(frozen=True)
class BotSetup:
    account: BotAccount
    config: RuntimeConfig
    db_url: str
    master_key: str


async def bot_setup(
    homeserver: Any, tmp_path: Path, localpart: str, *, notice_after: float = 10.0,
    db_url: str | None = None,
) -> BotSetup:
    """A registered bot account with a migrated database (SQLite unless ``db_url``)."""
    user_id = await homeserver.register_user(localpart, PASSWORD)
    db_url = db_url or f"sqlite:///{tmp_path / f'{localpart}.db'}"
    master_key = new_master_key()
    return BotSetup(
        BotAccount(user_id, PASSWORD, f"Bot {localpart}"),
        runtime_config(homeserver.url, tmp_path / f"{localpart}-store", db_url, master_key,
                       pickle_key=secrets.token_urlsafe(24), notice_after=notice_after),
        db_url,
        master_key,
    )


def runtime_config(
    url: str, store_dir: Path, db_url: str, master_key: str, *, pickle_key: str,
    notice_after: float = 10.0,
) -> RuntimeConfig:
    engine = make_engine(db_url)
    migrate(engine, [KERNEL_VERSIONS])
    cipher = load_cipher(engine, decode_master_key(master_key))
    return RuntimeConfig(
        homeserver_url=url, store_dir=store_dir, pickle_key=pickle_key, engine=engine,
        cipher=cipher, undecryptable_notice_after=notice_after,
    )
