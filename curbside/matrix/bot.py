"""The base class every Curbside bot extends.

A subclass declares its commands with :func:`command` and other events with
:func:`on_event`, and its background work with :func:`~curbside.matrix.jobs.periodic`,
:func:`~curbside.matrix.jobs.feed` and :func:`~curbside.matrix.jobs.on_sent`;
``!ping`` and ``!help`` come with the base class. Services the bot calls post
through :attr:`Bot.poster` in their caller's transaction. Its own
tables come with its own Alembic versions folder, named by
``migrations_location``; :meth:`Bot.version_locations` lists what the CLI
must migrate before :meth:`Bot.start`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, ClassVar

import nio
from sqlalchemy.orm import Session

from curbside.background import BackgroundTasks
from curbside.database import KERNEL_VERSIONS
from curbside.matrix.commands import CommandError, CommandTable, command
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.jobs import Job, JobTable, SentEvent, on_sent
from curbside.matrix.posting import MESSAGE, Poster
from curbside.matrix.rooms import InviteRefusal, UnencryptedRoomError, create_encrypted_room
from curbside.matrix.runtime import LEAVE_AFTER_SENT, MatrixRuntime
from curbside.matrix.supervisor import Supervisor

log = logging.getLogger(__name__)

__all__ = ["MESSAGE", "Bot", "InviteRefusal"]

#: No bot reads more of one message than this: a referral pasted whole is ~3,000.
MAX_MESSAGE_CHARS = 20_000


def over_length(body: str) -> str | None:
    """The reply to a message too long for any bot to read; None when it is not."""
    if len(body) <= MAX_MESSAGE_CHARS:
        return None
    return (f"That message is {len(body):,} characters; I read at most "
            f"{MAX_MESSAGE_CHARS:,}. Send it in parts, or attach it as a PDF.")


class Bot:
    """One bot account: start/stop, command routing, invites."""

    # A subclass with tables of its own points this at its versions folder.
    migrations_location: ClassVar[Path | None] = None

    def __init__(self, account: BotAccount, config: RuntimeConfig) -> None:
        self.account = account
        self.config = config
        self.table = CommandTable.of(type(self))
        self.runtime = MatrixRuntime(
            account, config, handle=self._route, wants=self._wants,
            should_join=self.should_join, on_sent=self._run_sent_hook,
        )
        self._background = BackgroundTasks(log)
        self.supervisor = Supervisor(
            self, JobTable.of(type(self)), engine=config.engine, store=self.runtime.store,
            poster=self.runtime.poster, tasks=self._background, audit=config.audit,
            operator_room=config.operator_room,
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

    @property
    def poster(self) -> Poster:
        """How this bot's services queue messages in their caller's transaction."""
        return self.runtime.poster

    async def start(self) -> None:
        await self.runtime.start()
        self._background.bind(asyncio.get_running_loop())
        self.supervisor.start(self.runtime.main)

    async def stop(self) -> None:
        await self._background.cancel_all()
        await self.runtime.stop()

    def after_commit(
        self, session: Session, job: Callable[[], Coroutine[Any, Any, None]], name: str
    ) -> None:
        """Start ``job()`` in the background once ``session`` commits (never on rollback)."""
        self.supervisor.after_commit(session, job, name)

    async def _run_sent_hook(
        self, hook: str, sent: SentEvent, mark_sent: Callable[[Session], None]
    ) -> bool:
        return await self.supervisor.run_sent_hook(hook, sent, mark_sent)

    async def should_join(self, room_id: str, inviter: str | None) -> bool | InviteRefusal:
        """Policy hook: accept an invite? The base bot joins every room it is invited to.

        A bot that declines returns an :class:`InviteRefusal` saying why and what to
        do instead (False declines silently: only for an invite with no inviter).
        """
        return True

    @on_sent(LEAVE_AFTER_SENT)
    async def leave_after_sent(self, job: Job, room_id: str, sent: SentEvent) -> None:
        """A declined invite's explanation was delivered: now leave the room."""
        response = await self.client.room_leave(room_id)
        if isinstance(response, nio.ErrorResponse):
            raise RuntimeError(f"leaving {room_id} failed: {response.message}")

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
        too_long = over_length(event.body) if event.type == MESSAGE else None
        if too_long is not None:
            ctx.reply(too_long, mentions=[event.sender])
            return
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

