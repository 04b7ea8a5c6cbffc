"""A puppet: one fax number as a Matrix user, ``@fax_<digits>:server``.

Each puppet is a full E2EE account on the foundation runtime: its own device
(logged in with ``m.login.application_service``, no password), cross-signed
by its own identity, so Element trusts what it posts; its own sync, so it
receives the room keys clients share with it and decrypts what is sent to
the number ("end-to-bridge" encryption).

    invite from a user      ─► should_join: portal(room, number, owner = user)
    invite from the bot     ─► should_join: portal(room, number, owner = room)
    ``!fax …``              ─► declared here, carried out by bridge.commands
    first sync showing room ─► welcome notice (once: ``welcomed`` flag)
    someone else joins      ─► the bridge releases faxes held for that room
    file event in a portal  ─► its Portal (bridge.portal), from the bridge's registry
"""

from __future__ import annotations

import asyncio
import time

import nio

from bridge.commands import HOW_TO, NAME, NUMBER, TARGET, FaxCommands
from bridge.numbers import display, number_of
from bridge.portal import DOCUMENT_MSGTYPES, welcome_text
from bridge.services import Services
from bridge.store import ROOM_OWNER, USER_OWNER
from curbside.database import session_scope
from curbside.matrix.bot import MESSAGE, Bot
from curbside.matrix.commands import command, group, on_event
from curbside.matrix.config import BotAccount
from curbside.matrix.context import Context
from curbside.matrix.rooms import create_encrypted_room


class RoomNotSeen(LookupError):
    """The puppet's sync never showed the room: not a network hiccup (those are
    TimeoutError), so a feed item waiting for it is moved aside in the end."""


class Puppet(Bot):
    def __init__(self, number: str, services: Services) -> None:
        config = services.config
        user_id = services.puppet_id(number)
        localpart = user_id[1:].split(":", 1)[0]
        account = BotAccount(user_id, "", f"Fax {display(number)}",
                              appservice_token=config.as_token)
        super().__init__(account, config.runtime_for(localpart))
        self.services = services
        self.number = number
        self.fax_commands = FaxCommands(services)

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def start(self) -> None:
        await super().start()
        self.client.add_event_callback(self._on_member, nio.RoomMemberEvent)
        self._welcome()

    async def should_join(self, room_id: str, inviter: str | None) -> bool:
        """Join invites from people of this server (a DM) and from the bridge bot (a room)."""
        config = self.services.config
        if inviter is None or not inviter.endswith(":" + config.server_name):
            return False
        if number_of(inviter, config.server_name) is not None:
            return False  # another fax number
        kind, owner = (ROOM_OWNER, room_id) if inviter == config.bot_user_id \
            else (USER_OWNER, inviter)
        with session_scope(config.runtime.engine) as session:
            self.services.store.add_portal(session, room_id, self.user_id, kind, owner)
        return True

    @command("help", help="list the commands this number understands")
    async def help(self, ctx: Context) -> None:
        plain, _ = self.table.help_text()
        ctx.reply(f"{plain}\n{HOW_TO}")

    fax = group("fax", help="faxing from this chat, and where received faxes arrive")

    @fax.subcommand("help", help="how to send a fax, and these commands")
    async def fax_help(self, ctx: Context) -> None:
        ctx.reply(f"{self.table.group_usage('fax')}\n{HOW_TO}")

    @fax.subcommand("numbers", help="fax numbers this room knows or owns")
    async def fax_numbers(self, ctx: Context) -> None:
        await self.fax_commands.numbers(ctx)

    @fax.subcommand("assign", help="deliver faxes received on the number there",
                    args=[NUMBER, TARGET])
    async def fax_assign(self, ctx: Context, number: str, target: str) -> None:
        await self.fax_commands.assign(ctx, number, target)

    @fax.subcommand("confirm", help="allow faxes from this room to the number",
                    args=[NUMBER, NAME])
    async def fax_confirm(self, ctx: Context, number: str, name: str) -> None:
        await self.fax_commands.confirm(ctx, number, name)

    @on_event(MESSAGE)
    async def document(self, ctx: Context) -> None:
        if ctx.event.msgtype not in DOCUMENT_MSGTYPES:
            return
        portal = await self.services.host.portal(ctx.event.room_id, self.user_id)
        if portal is not None:
            await portal.handle_matrix_document(ctx)

    async def open_dm(self, user_id: str) -> str:
        """A new encrypted DM with ``user_id``, recorded as this number's portal for them."""
        room_id = await create_encrypted_room(
            self.client, name=f"Fax {display(self.number)}", invite=[user_id], is_direct=True
        )
        with session_scope(self.services.config.runtime.engine) as session:
            self.services.store.add_portal(session, room_id, self.user_id, USER_OWNER, user_id,
                                           welcomed=True)
        await self.wait_in_room(room_id)
        return room_id

    async def wait_in_room(self, room_id: str, timeout: float = 60.0) -> None:
        """Wait until a sync showed the room: the outbox only sends to rooms it knows."""
        deadline = time.monotonic() + timeout
        while room_id not in self.client.rooms:
            if time.monotonic() > deadline:
                raise RoomNotSeen(f"{self.user_id} did not see {room_id} in its sync")
            await asyncio.sleep(0.05)

    def has_joined(self, room_id: str, user_id: str) -> bool:
        """Whether this puppet's sync shows ``user_id`` joined (nio's ``users``
        holds invitees too)."""
        room = self.client.rooms.get(room_id)
        return room is not None and user_id in room.users and user_id not in room.invited_users

    async def user_exists(self, user_id: str) -> bool:
        """Whether the homeserver has a profile for ``user_id``: Synapse invites a user
        it has never heard of without complaint, and the invite would wait forever.
        (Synapse answers an unknown user's profile with M_NOT_FOUND or, for a local
        one, M_UNKNOWN "No row found"; either is an error response here.)"""
        response = await self.client.get_profile(user_id)
        return not isinstance(response, nio.ProfileGetError)

    async def has_left(self, room_id: str, user_id: str) -> bool:
        """Whether ``user_id`` left (or was removed from, or refused) the room, as the
        homeserver's member state says: the sync alone cannot tell a member who left
        from an invite not synced yet."""
        response = await self.client.room_get_state_event(room_id, "m.room.member", user_id)
        if isinstance(response, nio.RoomGetStateEventError):
            return False  # no member event: never invited, so not "left" either
        return response.content.get("membership") in ("leave", "ban")

    async def wait_joined(self, room_id: str, user_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for :meth:`has_joined`; its final answer."""
        deadline = time.monotonic() + timeout
        while not self.has_joined(room_id, user_id):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _on_member(self, room: nio.MatrixRoom, event: nio.RoomMemberEvent) -> None:
        """nio runs this while applying a sync, after the room entered ``client.rooms``."""
        if event.membership != "join":
            return
        if event.state_key == self.user_id:
            self._welcome()
        else:
            self.services.host.member_joined(room.room_id)

    def _welcome(self) -> None:
        """Greet each new portal once, when the sync shows the puppet in it."""
        store = self.services.store
        with session_scope(self.services.config.runtime.engine) as session:
            for portal in store.unwelcomed(session, self.user_id):
                if portal.room_id in self.client.rooms and \
                        store.mark_welcomed(session, portal.room_id, self.user_id):
                    self.poster.post(session, portal.room_id, welcome_text(portal, self.number))
