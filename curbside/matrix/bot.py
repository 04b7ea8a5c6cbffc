"""The base class every Curbside bot extends.

A subclass declares its commands with :func:`command` and other events with
:func:`on_event`; ``!ping`` and ``!help`` come with the base class. Its own
tables come with its own Alembic versions folder, named by
``migrations_location``; :meth:`Bot.version_locations` lists what the CLI
must migrate before :meth:`Bot.start`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import nio

from curbside.database import KERNEL_VERSIONS
from curbside.matrix.commands import CommandError, CommandTable, command
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.rooms import UnencryptedRoomError, create_encrypted_room
from curbside.matrix.runtime import MatrixRuntime

MESSAGE = "m.room.message"


class Bot:
    """One bot account: start/stop, command routing, invites."""

    # A subclass with tables of its own points this at its versions folder.
    migrations_location: ClassVar[Path | None] = None

    def __init__(self, account: BotAccount, config: RuntimeConfig) -> None:
        self.account = account
        self.config = config
        self.table = CommandTable.of(type(self))
        self.runtime = MatrixRuntime(
            account, config, handle=self._route, wants=self._wants, should_join=self.should_join
        )

    @classmethod
    def version_locations(cls) -> list[Path]:
        """Alembic version folders this bot needs: the kernel's plus its own."""
        locations = [KERNEL_VERSIONS]
        if cls.migrations_location is not None:
            locations.append(cls.migrations_location)
        return locations

    @property
    def client(self) -> nio.AsyncClient:
        return self.runtime.client

    async def start(self) -> None:
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()

    async def should_join(self, room_id: str, inviter: str | None) -> bool:
        """Policy hook: accept an invite? The base bot joins every room it is invited to."""
        return True

    async def create_room(
        self, *, name: str | None = None, topic: str | None = None, invite: Sequence[str] = ()
    ) -> str:
        """Create an encrypted room (every room a bot creates is encrypted)."""
        return await create_encrypted_room(self.client, name=name, topic=topic, invite=invite)

    # -- built-in commands ---------------------------------------------------

    @command("ping", help="check the bot is alive; answers with the measured latency")
    async def ping(self, ctx: Context) -> None:
        latency_ms = max(0, int(time.time() * 1000) - ctx.event.origin_server_ts)
        ctx.reply(f"pong ({latency_ms} ms)")

    @command("help", help="list the commands this bot understands")
    async def help(self, ctx: Context) -> None:
        plain, html = self.table.help_text()
        ctx.reply(plain, html)

    # -- routing -------------------------------------------------------------

    def _wants(self, event_type: str) -> bool:
        return event_type == MESSAGE or event_type in self.table.event_handlers

    async def _route(self, ctx: Context) -> None:
        event = ctx.event
        for attr in self.table.event_handlers.get(event.type, ()):
            await getattr(self, attr)(ctx)
        if event.type != MESSAGE or event.msgtype != "m.text":
            return
        try:
            invocation = self.table.parse(event.body)
            if invocation is not None:
                await getattr(self, invocation.spec.attr)(ctx, **invocation.kwargs)
        except CommandError as error:  # from the parser, or a handler refusing
            ctx.reply(error.message, mentions=[event.sender])
        except UnencryptedRoomError:
            ctx.session.rollback()
            ctx.reply(
                "I do not post patient data in a room without end-to-end encryption. "
                "Turn on encryption in the room settings, or ask me in an encrypted room.",
                mentions=[event.sender],
            )

