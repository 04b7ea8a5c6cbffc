"""One gatekeeper on a real Synapse, shared by the scenarios of a test module.

A :class:`World` holds the running bot, its database (with the test registry
loaded), a verifier with the credentialing team's room, and helpers that talk
to the bot as a clinician would: send a message, wait for the bot's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bots.gatekeeper.bot import GatekeeperBot
from bots.gatekeeper.config import GatekeeperConfig
from curbside.audit import AuditLog
from curbside.database import migrate
from tests.gatekeeper.conftest import AUDIT_KEY
from tests.gatekeeper.registry_data import load_registry
from tests.support.matrix_testkit import BotSetup, MatrixUser, bot_setup, wait_for


@dataclass
class World:
    homeserver: object
    setup: BotSetup
    settings: GatekeeperConfig
    verifier: MatrixUser
    verifiers_room: str
    bot: GatekeeperBot
    users: list[MatrixUser] = field(default_factory=list)

    @property
    def bot_id(self) -> str:
        return self.setup.account.user_id

    @property
    def engine(self):
        return self.setup.config.engine

    @property
    def audit(self) -> AuditLog:
        return self.bot.audit

    async def restart(self) -> None:
        await self.bot.stop()
        self.bot = GatekeeperBot(self.setup.account, self.setup.config,
                                 audit=AuditLog(AUDIT_KEY), settings=self.settings)
        await self.bot.start()

    async def user(self, localpart: str) -> MatrixUser:
        user = await MatrixUser.create(self.homeserver, localpart)
        self.users.append(user)
        return user

    async def dm(self, user: MatrixUser) -> str:
        """A direct-message room between ``user`` and the gatekeeper, joined by both."""
        room_id = await user.create_encrypted_room([self.bot_id])
        await user.wait_joined(room_id, self.bot_id, self.bot.client.device_id)
        return room_id

    async def ask(self, user: MatrixUser, room_id: str, text: str) -> str:
        """Send ``text`` and return the body of the gatekeeper's reply to it."""
        sent = await user.send(room_id, text)
        replies = await wait_for(lambda: user.replies_to(sent, self.bot_id),
                                 what=f"the gatekeeper's answer to {text!r}")
        return replies[0].body

    def notices(self, user: MatrixUser, room_id: str) -> list[str]:
        return [r.body for r in user.received
                if r.room_id == room_id and r.event.sender == self.bot_id]

    async def close(self) -> None:
        await self.bot.stop()
        for user in [*self.users, self.verifier]:
            await user.close()


async def start_world(homeserver, tmp_path: Path, tag: str) -> World:
    setup = await bot_setup(homeserver, tmp_path, f"gatekeeper{tag}")
    migrate(setup.config.engine, GatekeeperBot.version_locations())
    load_registry(setup.config.engine, tmp_path)
    verifier = await MatrixUser.create(homeserver, f"verifier{tag}")
    verifiers_room = await verifier.create_encrypted_room([setup.account.user_id])
    settings = GatekeeperConfig(
        verifiers_room=verifiers_room,
        allowed_servers=(homeserver.server_name,),
        sweep_interval=2.0,
    )
    bot = GatekeeperBot(setup.account, setup.config, audit=AuditLog(AUDIT_KEY), settings=settings)
    await bot.start()
    await verifier.wait_joined(verifiers_room, setup.account.user_id, bot.client.device_id)
    return World(homeserver, setup, settings, verifier, verifiers_room, bot)
