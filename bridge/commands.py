"""``!fax …``: what the puppets do for the ``!fax`` sub-commands they declare.

    !fax help                              what the bridge does, and these commands
    !fax numbers                           numbers this room knows or owns
    !fax assign NUMBER @user|#room|!room   inbound faxes to NUMBER go there (who may:
                                           bridge.assignment; every change audited)
    !fax confirm NUMBER RECIPIENT NAME     allow faxes from this room to NUMBER

:class:`bridge.puppet.Puppet` declares them with the arguments below, so the
kernel parses them; :class:`FaxCommands` carries them out and refuses with a
:class:`CommandError` the kernel answers with. Numbers are written the way
people write them (``+1 617 555 0134``), so :data:`NUMBER` takes the run of
words that look like one; names contain apostrophes ("Dr. Lee's office"),
which the kernel keeps as letters.
"""

from __future__ import annotations

import asyncio

from bridge.assignment import Request, refusal
from bridge.numbers import InvalidNumber, display, normalise_number, number_of
from bridge.services import Services
from bridge.user import NOT_VERIFIED, User
from curbside.matrix.commands import Arg, CommandError
from curbside.matrix.context import Context
from fax_gateway import Owner, OwnerKind

HOW_TO = ("To fax someone: start a chat with @fax_<number> (e.g. @fax_16175550134), "
          "then send a PDF or a photo of the document.")


def _dialable(raw: str) -> str:
    try:
        return normalise_number(raw)
    except InvalidNumber as error:  # the phone rules' own words: what is wrong, the form
        raise ValueError(str(error)) from None


NUMBER = Arg("number", matches=r"[+0-9().-]+(?: [+0-9().-]+)*", convert=_dialable,
             help="a fax number, e.g. +1 617 555 0134")
TARGET = Arg("target", matches=r"[@#!]\S+", help="@user:server, #room:server or !room:server")
NAME = Arg("name", rest=True, help="the recipient's name, e.g. Dr. Lee's office")


class FaxCommands:
    """The ``!fax`` actions; each puppet runs them on its own context."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def numbers(self, ctx: Context) -> None:
        store, room_id = self.services.store, ctx.event.room_id
        lines = [f"{display(n)} — {name} (confirmed)"
                 for n, name in store.known_numbers(ctx.session, room_id)]
        for portal in store.portals_in_room(ctx.session, room_id):
            number = self._number_of(portal.puppet_id)
            owner = self.services.owner(number) if number else None
            if number and owner is not None and owner.id in (room_id, ctx.event.sender):
                lines.append(f"{display(number)} — faxes received on it arrive here")
        ctx.reply("Fax numbers of this room:\n" + "\n".join(lines) if lines
                  else "This room has no fax numbers yet. !fax confirm NUMBER RECIPIENT NAME "
                  "allows faxes from this room to NUMBER.")

    async def confirm(self, ctx: Context, number: str, name: str) -> None:
        sender = self._verified(ctx)
        self.services.store.confirm_number(
            ctx.session, ctx.event.room_id, number, name, sender.user_id
        )
        ctx.reply(f"Confirmed: {display(number)} is {name}. Faxes from this room "
                  "to that number go out without asking again; send the document now.")

    async def assign(self, ctx: Context, number: str, target: str) -> None:
        """Route NUMBER's received faxes, if :func:`bridge.assignment.refusal` allows it."""
        sender = self._verified(ctx)
        host = self.services.host
        owner = await self._owner_for(ctx, target)
        current = self.services.owner(number)
        where = "this room" if owner.id == ctx.event.room_id else target
        if current == owner:
            ctx.reply(f"Faxes received on {display(number)} already arrive in {where}.")
            return
        request = Request(
            actor=sender.user_id, number=display(number), current=current, target=owner,
            target_verified=owner.kind is OwnerKind.MATRIX_USER
            and User.verified(ctx.session, owner.id) is not None,
            in_target=await host.standing(owner.id, sender.user_id)
            if owner.kind is OwnerKind.ROOM else None,
            in_current=await host.standing(current.id, sender.user_id)
            if current is not None and current.kind is OwnerKind.ROOM else None,
        )
        problem = refusal(request, self.services.config.bot_user_id)
        if problem is not None:
            raise CommandError(problem)
        if owner.kind is OwnerKind.ROOM:
            problem = await host.invite_puppet(owner.id, number)
            if problem is not None:
                raise CommandError(problem)
        await asyncio.to_thread(self._assign, number, current, owner, sender.user_id,
                                ctx.event.room_id)
        ctx.reply(f"Faxes received on {display(number)} now arrive in {where}. "
                  "Only you (or, for a room, its moderators) can assign it elsewhere.")

    # -- helpers ---------------------------------------------------------------

    def _assign(self, number: str, old: Owner | None, new: Owner, actor: str,
                from_room: str) -> None:
        """Route, audited by the gateway (the entry names the number by its keyed hash)."""
        self.services.gateway.assign_route(
            number, new, actor=actor, reason="!fax assign",
            details={"old_owner": _owner_text(old), "new_owner": _owner_text(new),
                     "from_room": from_room},
        )

    def _verified(self, ctx: Context) -> User:
        user = User.verified(ctx.session, ctx.event.sender)
        if user is None:
            raise CommandError(NOT_VERIFIED)
        return user

    async def _owner_for(self, ctx: Context, target: str) -> Owner:
        if target.startswith("@"):
            if ":" not in target:
                raise CommandError(f"{target} is not a Matrix user id (@name:server)")
            return Owner(OwnerKind.MATRIX_USER, target)
        room_id = target
        if target.startswith("#"):
            resolved = await ctx.client.room_resolve_alias(target)
            room_id = getattr(resolved, "room_id", "")
            if not room_id:
                raise CommandError(f"I cannot find the room {target}")
        return Owner(OwnerKind.ROOM, room_id)

    def _number_of(self, user_id: str) -> str | None:
        return number_of(user_id, self.services.config.server_name)


def _owner_text(owner: Owner | None) -> str | None:
    return f"{owner.kind.value}:{owner.id}" if owner is not None else None

