"""A referral desk on a real Synapse: the bot, a coordinator and a cardiologist.

Both people are real E2EE clients; their credentials are inserted directly as
the gatekeeper would have written them. The desk shares its database with a
real fax gateway on the loopback (spandsp) line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nio

from bots.referral_desk.bot import ReferralDeskBot
from bots.referral_desk.config import ReferralDeskConfig
from curbside.credentials import VerifiedCredential
from curbside.database import KERNEL_VERSIONS, migrate, session_scope
from curbside.matrix.files import download_decrypted, upload_encrypted
from curbside.phi import decode_master_key, install_cipher
from fax_gateway.gateway import VERSIONS_DIR, FaxSettings, Gateway, derive_pepper, open_gateway
from referral import MIGRATIONS
from referral.cases import ReferralEnv
from tests.support.matrix_testkit import BotSetup, MatrixUser, Received, wait_for

AUDIT_KEY = b"referral-desk-audit-key-0123456789"
DESK_CONFIG = ReferralDeskConfig(
    organisation_name="Harbor Family Medicine",
    organisation_phone="+16175550100",
    organisation_fax="+16175550101",
)


def credential(user_id: str, name: str, npi: str, specialty: str) -> VerifiedCredential:
    now = datetime.now(UTC)
    return VerifiedCredential(
        user_id=user_id, npi=npi, legal_name=name, credential_text="MD", specialty=specialty,
        taxonomy_code="207Q00000X", licence_state="MA", licence_number="123",
        verified_by="@gk:curbside.test", evidence="", verified_at=now - timedelta(days=3),
        expires_at=now + timedelta(days=300),
    )


def prepare_database(setup: BotSetup) -> tuple[ReferralEnv, Gateway]:
    engine = setup.config.engine
    desk_versions = ReferralDeskBot.migrations_location
    assert desk_versions is not None
    migrate(engine, [KERNEL_VERSIONS, MIGRATIONS, desk_versions, VERSIONS_DIR])
    install_cipher(setup.config.cipher)  # type: ignore[arg-type]
    env = ReferralEnv.from_secrets(
        audit_key=AUDIT_KEY, master_key=decode_master_key(setup.master_key)
    )
    gateway = open_gateway(
        FaxSettings(), engine=engine, cipher=setup.config.cipher,  # type: ignore[arg-type]
        audit=env.audit, pepper=derive_pepper(AUDIT_KEY),
        documents_dir=Path(str(setup.config.store_dir)) / "fax-documents",
    )
    return env, gateway


@dataclass
class Desk:
    setup: BotSetup
    env: ReferralEnv
    gateway: Gateway
    bot: ReferralDeskBot
    settings: ReferralDeskConfig = DESK_CONFIG
    fax_inbox_room: str | None = None

    @property
    def user_id(self) -> str:
        return self.setup.account.user_id

    @classmethod
    async def start(cls, setup: BotSetup, env: ReferralEnv, gateway: Gateway,
                    fax_inbox_room: str | None = None) -> Desk:
        bot = ReferralDeskBot(setup.account, setup.config, env=env, settings=DESK_CONFIG,
                              gateway=gateway, fax_inbox_room=fax_inbox_room)
        await bot.start()
        return cls(setup, env, gateway, bot, fax_inbox_room=fax_inbox_room)

    async def restart(self, settings: ReferralDeskConfig | None = None) -> None:
        """Stop and start again, with other settings if given."""
        await self.bot.stop()
        self.settings = settings or self.settings
        self.bot = ReferralDeskBot(self.setup.account, self.setup.config, env=self.env,
                                   settings=self.settings, gateway=self.gateway,
                                   fax_inbox_room=self.fax_inbox_room)
        await self.bot.start()


def verify(desk: Desk, *users: tuple[MatrixUser, str, str]) -> None:
    with session_scope(desk.setup.config.engine) as session:
        for number, (user, name, specialty) in enumerate(users):
            session.add(credential(user.user_id, name, f"12345678{number:02d}", specialty))


async def ask(user: MatrixUser, desk: Desk, room_id: str, body: str,
              thread_root: str | None = None) -> str:
    """Send ``body`` (in a thread) and return the desk's reply to it."""
    event_id = await user.send(room_id, body, thread_root=thread_root)
    replies = await wait_for(lambda: user.replies_to(event_id, desk.user_id),
                             what=f"the desk's answer to {body[:30]!r}")
    return replies[0].body


def in_thread(user: MatrixUser, sender: str, room_id: str, root: str) -> list[Received]:
    return [
        r for r in user.received
        if r.room_id == room_id and r.event.sender == sender
        and (r.content.get("m.relates_to") or {}).get("event_id") == root
    ]


async def thread_says(user: MatrixUser, desk: Desk, room_id: str, root: str,
                      text: str) -> Received:
    found = await wait_for(
        lambda: [r for r in in_thread(user, desk.user_id, room_id, root) if text in r.body],
        what=f"{text!r} in the thread",
    )
    return found[0]


async def join_invite(user: MatrixUser) -> str:
    room_id = await wait_for(lambda: next(iter(user.client.invited_rooms), None),
                             what="an invitation")
    response = await user.client.join(room_id)
    assert isinstance(response, nio.JoinResponse), response
    await wait_for(lambda: room_id in user.client.rooms, what="the joined room")
    return str(room_id)


async def file_bytes(user: MatrixUser, received: Received) -> bytes:
    return await download_decrypted(user.client, received.content)


async def send_file(user: MatrixUser, room_id: str, data: bytes, name: str,
                    thread_root: str) -> str:
    content: dict[str, Any] = await upload_encrypted(user.client, data, name, "application/pdf")
    content["m.relates_to"] = {
        "rel_type": "m.thread", "event_id": thread_root, "is_falling_back": True,
        "m.in_reply_to": {"event_id": thread_root},
    }
    response = await user.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
    assert isinstance(response, nio.RoomSendResponse), response
    return str(response.event_id)

