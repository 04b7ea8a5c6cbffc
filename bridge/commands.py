"""``!fax …``: the commands the bridge bot and every puppet answer.

    !fax help                              what the bridge does, and these commands
    !fax numbers                           numbers this room knows or owns
    !fax assign NUMBER @user|#room|!room   inbound faxes to NUMBER go there (who may:
                                           bridge.assignment; every change audited)
    !fax confirm NUMBER RECIPIENT NAME     allow faxes from this room to NUMBER

Numbers are written the way people write them (``+1 617 555 0134``), and
names contain apostrophes ("Dr. Lee's office"), so ``!fax`` is parsed here
rather than by the shell-like splitting of ``curbside.matrix.commands``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from bridge.assignment import Request, refusal
from bridge.numbers import InvalidNumber, display, normalise_number, number_of
from bridge.services import Services
from bridge.user import NOT_VERIFIED, User
from curbside.database import session_scope
from curbside.matrix.context import Context
from fax_gateway.routing import Owner, OwnerKind

_NUMBER_WORD = re.compile(r"^[+0-9().-]+$")

USAGE = (
    "!fax help — this text\n"
    "!fax numbers — fax numbers this room knows or owns\n"
    "!fax assign NUMBER @user|#room — deliver faxes received on NUMBER there\n"
    "!fax confirm NUMBER RECIPIENT NAME — allow faxes from this room to NUMBER\n"
    "To fax someone: start a chat with @fax_<number> (e.g. @fax_16175550134), "
    "then send a PDF or a photo of the document."
)


class FaxCommandError(Exception):
    """What the sender is told when a ``!fax`` command cannot be carried out."""


@dataclass(frozen=True, slots=True)
class Parsed:
    action: str
    number: str | None
    rest: str


def is_fax_command(body: str) -> bool:
    return body == "!fax" or body.startswith("!fax ")


def parse(body: str) -> Parsed:
    """Split ``!fax ACTION [NUMBER…] [REST…]``; the number may span several words."""
    words = body.split()[1:]
    if not words:
        return Parsed("help", None, "")
    action, words = words[0].lower(), words[1:]
    number_words: list[str] = []
    while words and _NUMBER_WORD.match(words[0]):
        number_words.append(words.pop(0))
    raw = " ".join(number_words)
    number = None
    if raw:
        try:
            number = normalise_number(raw)
        except InvalidNumber as error:
            raise FaxCommandError(f"{error}.") from None
    return Parsed(action, number, " ".join(words))


class FaxCommands:
    """The ``!fax`` actions; the bot and the puppets run them on their own context."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle(self, ctx: Context) -> None:
        try:
            parsed = parse(ctx.event.body)
            action = _ACTIONS.get(parsed.action)
            if action is None:
                raise FaxCommandError(f"unknown !fax command {parsed.action!r}.\n{USAGE}")
            await action(self, ctx, parsed)
        except FaxCommandError as error:
            ctx.reply(str(error), mentions=[ctx.event.sender])

    async def help(self, ctx: Context, parsed: Parsed) -> None:
        ctx.reply(USAGE)

    async def numbers(self, ctx: Context, parsed: Parsed) -> None:
        store, room_id = self.services.store, ctx.event.room_id
        lines = [f"{display(n)} — {name} (confirmed)"
                 for n, name in store.known_numbers(ctx.session, room_id)]
        for portal in store.portals_in_room(ctx.session, room_id):
            number = self._number_of(portal.puppet_id)
            owner = self.services.owner(ctx.session, number) if number else None
            if number and owner is not None and owner.id in (room_id, ctx.event.sender):
                lines.append(f"{display(number)} — faxes received on it arrive here")
        ctx.reply("Fax numbers of this room:\n" + "\n".join(lines) if lines
                  else "This room has no fax numbers yet. " + USAGE.splitlines()[3])

    async def confirm(self, ctx: Context, parsed: Parsed) -> None:
        sender = self._verified(ctx)
        if parsed.number is None or not parsed.rest:
            raise FaxCommandError(
                "usage: !fax confirm NUMBER RECIPIENT NAME, e.g. "
                "!fax confirm +1 617 555 0134 Dr. Lee's office"
            )
        self.services.store.confirm_number(
            ctx.session, ctx.event.room_id, parsed.number, parsed.rest, sender.user_id
        )
        ctx.reply(f"Confirmed: {display(parsed.number)} is {parsed.rest}. Faxes from this room "
                  "to that number go out without asking again; send the document now.")

    async def assign(self, ctx: Context, parsed: Parsed) -> None:
        """Route NUMBER's received faxes, if :func:`bridge.assignment.refusal` allows it."""
        sender = self._verified(ctx)
        target = parsed.rest.strip()
        if parsed.number is None or not target or target[0] not in "@#!":
            raise FaxCommandError("usage: !fax assign NUMBER @user|#room, e.g. "
                                  "!fax assign +1 617 555 0100 #cardiology:example.org")
        number, host = parsed.number, self.services.host
        owner = await self._owner_for(ctx, target)
        current = self.services.owner(ctx.session, number)
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
            raise FaxCommandError(problem)
        if owner.kind is OwnerKind.ROOM:
            problem = await host.invite_puppet(owner.id, number)
            if problem is not None:
                raise FaxCommandError(problem)
        await asyncio.to_thread(self._assign, number, current, owner, sender.user_id,
                                ctx.event.room_id)
        ctx.reply(f"Faxes received on {display(number)} now arrive in {where}. "
                  "Only you (or, for a room, its moderators) can assign it elsewhere.")

    # -- helpers ---------------------------------------------------------------

    def _assign(self, number: str, old: Owner | None, new: Owner, actor: str,
                from_room: str) -> None:
        """Audit, then route: the audit entry commits first, so no route changes unrecorded.

        The entry names the number by the gateway's keyed hash (numbers are
        PHI-adjacent: fax_gateway.models), never the number itself.
        """
        gateway = self.services.gateway
        with session_scope(self.services.config.runtime.engine) as session:
            gateway.outbox.audit.record(
                session, actor=actor, action="fax.route.assign", record_type="fax_route",
                record_id=self.services.number_key(number), reason="!fax assign",
                details={"old_owner": _owner_text(old), "new_owner": _owner_text(new),
                         "from_room": from_room},
            )
        gateway.inbox.router.set_route(number, new)

    def _verified(self, ctx: Context) -> User:
        user = User.verified(ctx.session, ctx.event.sender)
        if user is None:
            raise FaxCommandError(NOT_VERIFIED)
        return user

    async def _owner_for(self, ctx: Context, target: str) -> Owner:
        if target.startswith("@"):
            if ":" not in target:
                raise FaxCommandError(f"{target} is not a Matrix user id (@name:server)")
            return Owner(OwnerKind.MATRIX_USER, target)
        room_id = target
        if target.startswith("#"):
            resolved = await ctx.client.room_resolve_alias(target)
            room_id = getattr(resolved, "room_id", "")
            if not room_id:
                raise FaxCommandError(f"I cannot find the room {target}")
        return Owner(OwnerKind.ROOM, room_id)

    def _number_of(self, user_id: str) -> str | None:
        return number_of(user_id, self.services.config.server_name)


def _owner_text(owner: Owner | None) -> str | None:
    return f"{owner.kind.value}:{owner.id}" if owner is not None else None


_ACTIONS = {
    "help": FaxCommands.help,
    "numbers": FaxCommands.numbers,
    "confirm": FaxCommands.confirm,
    "assign": FaxCommands.assign,
}
