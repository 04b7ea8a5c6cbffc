"""The gatekeeper: verifies clinicians and keeps verified rooms verified.

Everything a clinician or verifier can say to the gatekeeper is declared on
:class:`GatekeeperBot`, and each handler only parses, asks the service and
answers (doing the homeserver's part itself: room creation, invites); the
work lives beside it:

    service.py       what the gatekeeper answers (the service), over the stores below
    verification.py  the !verify conversation (a table of pure steps) + its row
    fax_code.py      verification by fax: a one-time code to the NPPES practice fax
    attestation.py   !approve / !deny / !revoke, issuing and revoking the credential
    admission.py     who may be in a verified room, invite blocks (the records)
    rooms.py         verified rooms on the homeserver: how they are made, invites
    revocation.py    the sweep (a declared periodic job): revocation, expiry,
                     deactivation, reminders
    directory.py     !find and !directory
    roster.py        bulk attestation from an organisation's roster (CLI)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Concatenate, ParamSpec

from sqlalchemy.orm import Session

from bots.gatekeeper import fax_code, rooms
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.revocation import SWEEP, Sweeper
from bots.gatekeeper.service import Asker, Gatekeeper, Post, Refused, Reply
from curbside.audit import AuditLog
from curbside.credentials import Credential
from curbside.database import after_commit, session_scope
from curbside.matrix import content as build
from curbside.matrix.bot import MESSAGE, Bot
from curbside.matrix.commands import Arg, command, group, on_event
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.jobs import Job, periodic
from curbside.matrix.rooms import RoomCreationError
from fax_gateway import Gateway, IdempotencyConflict, InvalidDocument, InvalidNumber

log = logging.getLogger(__name__)

P = ParamSpec("P")


def _now() -> datetime:
    return datetime.now(UTC)


def _user_id(text: str) -> str:
    """A Matrix user id argument ('@dana:example.org')."""
    text = text.strip()
    if not (text.startswith("@") and ":" in text):
        raise ValueError("must be a Matrix ID like @dana:example.org")
    return text


def _asker(ctx: Context) -> Asker:
    return Asker(ctx.event.sender, ctx.event.room_id)


class GatekeeperBot(Bot):
    """Answers clinicians in a DM and verifiers in their room; sweeps verified rooms."""

    migrations_location = Path(__file__).resolve().parent / "migrations" / "versions"

    def __init__(
        self,
        account: BotAccount,
        config: RuntimeConfig,
        *,
        audit: AuditLog,
        settings: GatekeeperConfig | None = None,
        gateway: Gateway | None = None,
        fax_code_key: bytes | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """``gateway`` and ``fax_code_key`` (see fax_code.derive_code_key) turn on
        verification by fax; without both, !faxcode says it is not set up."""
        super().__init__(account, config)
        self.settings = settings or GatekeeperConfig()
        self.audit = audit
        self.gateway = gateway
        self.gatekeeper = Gatekeeper(audit, self.settings, clock=clock,
                                     fax_code_key=fax_code_key if gateway else None)
        self.sweeper = Sweeper(
            client=lambda: self.client,
            engine=config.engine,
            audit=audit,
            config=self.settings,
            supervisor=self.supervisor,
        )

    @property
    def sweep_interval(self) -> float:
        """Seconds between sweeps (the option), for the periodic job."""
        return self.settings.sweep_interval

    @periodic(SWEEP, every="sweep_interval")
    async def sweep(self, job: Job) -> None:
        """Remove members whose verification ended, tell them why, remind who expires soon."""
        await self.sweeper.sweep()

    # -- verification conversation -------------------------------------------

    @command("verify", help="prove you are a clinician (NPI, name, licence, then a verifier)")
    async def verify(self, ctx: Context) -> None:
        room = ctx.client.rooms.get(ctx.event.room_id)
        direct = room is not None and len(room.users) <= 2
        self._answer(ctx, self.gatekeeper.verify, direct=direct)

    @command("cancel", help="withdraw your verification request")
    async def cancel(self, ctx: Context) -> None:
        self._answer(ctx, self.gatekeeper.cancel)

    @on_event(MESSAGE)
    async def answer(self, ctx: Context) -> None:
        """A plain message in the DM is the answer to the pending question, if any."""
        event = ctx.event
        if event.msgtype != "m.text" or event.body.startswith("!") or not event.body.strip():
            return
        self._answer(ctx, self.gatekeeper.answer, event.body)

    @command("faxcode", help="during !verify: fax a one-time code to your practice fax "
             "number listed in NPPES (then send it back with !code)")
    async def faxcode(self, ctx: Context) -> None:
        self._answer(ctx, self.gatekeeper.fax_code)

    @command("code", help="the one-time code faxed to your practice", args=[
        Arg("code", matches=r"\d{6}", help="the 6 digits on the faxed page")])
    async def code(self, ctx: Context, code: str) -> None:
        self._answer(ctx, self.gatekeeper.confirm_code, code)

    async def _fax_code(self, fax: fax_code.CodeFax, room_id: str) -> None:
        """Fax a committed code (once: keyed by its row); say so if the gateway refuses."""
        assert self.gateway is not None  # the service issues codes only with a gateway
        try:
            job = await asyncio.to_thread(
                self.gateway.submit, fax.pdf, fax.number, idempotency_key=fax.idempotency_key,
                actor=self.account.user_id, recipient_name="NPPES practice fax")
        except (InvalidNumber, InvalidDocument, IdempotencyConflict) as refused:
            log.warning("verification code %s was not faxed: %s", fax.code_id,
                        type(refused).__name__)
            with session_scope(self.config.engine) as session:
                self.poster.post(session, room_id, "I could not fax the code: the fax gateway "
                                 f"refused it ({refused}). A verifier can confirm your "
                                 "identity instead.")
            return
        with session_scope(self.config.engine) as session:
            fax_code.sent(session, fax.code_id, job.id)

    # -- verifiers -----------------------------------------------------------

    @command("approve", help="(verifiers) approve a request, saying what you checked",
             args=[Arg("id", convert=int), Arg("checked", rest=True)])
    async def approve(self, ctx: Context, id: int, checked: str) -> None:
        self._answer(ctx, self.gatekeeper.approve, id, checked)

    @command("deny", help="(verifiers) deny a request with the reason",
             args=[Arg("id", convert=int), Arg("reason", rest=True)])
    async def deny(self, ctx: Context, id: int, reason: str) -> None:
        self._answer(ctx, self.gatekeeper.deny, id, reason)

    @command("revoke", help="(verifiers) revoke a clinician's verification",
             args=[Arg("user", convert=_user_id), Arg("reason", rest=True)])
    async def revoke(self, ctx: Context, user: str, reason: str) -> None:
        self._answer(ctx, self.gatekeeper.revoke, user, reason)

    # -- verified rooms ------------------------------------------------------

    verified_room = group("room", help="verified rooms")

    @verified_room.subcommand("create", help="make a verified room (verified members only)",
                              args=[Arg("name", rest=True)])
    async def room_create(self, ctx: Context, name: str) -> None:
        try:
            credential = self.gatekeeper.room_creator(ctx.session, _asker(ctx))
            room_id = await rooms.create_verified_room(
                ctx.client, name=name, allowed_servers=self.settings.allowed_servers
            )
            await rooms.invite_with_verified_name(
                ctx.client, room_id, credential.user_id, credential.display_name
            )
        except Refused as refused:
            ctx.reply(str(refused))
            return
        except (RoomCreationError, rooms.RoomActionError) as error:
            ctx.reply(f"I could not create the room: {error}. Please try again later.")
            return
        self._answer(ctx, self.gatekeeper.room_created, room_id, name)

    @command("invite", help="invite a verified colleague to a verified room",
             args=[Arg("user", convert=_user_id), Arg("room")])
    async def invite(self, ctx: Context, user: str, room: str) -> None:
        await self._invite(ctx, room, lambda room_id: self.gatekeeper.invitee(
            ctx.session, _asker(ctx), room_id, user))

    @command("join", help="ask to be invited to a verified room", args=[Arg("room")])
    async def join(self, ctx: Context, room: str) -> None:
        await self._invite(ctx, room, lambda room_id: self.gatekeeper.joiner(
            ctx.session, _asker(ctx), room_id))

    async def _invite(self, ctx: Context, room: str, admit: Callable[[str], Credential]) -> None:
        """Resolve the room, ask the service whom to admit, invite with the verified name."""
        room_id = await rooms.resolve_room(ctx.client, room)
        if room_id is None:
            ctx.reply(f"I do not know the room {room}; give its id (!…) or alias (#…).")
            return
        try:
            credential = admit(room_id)
            await rooms.invite_with_verified_name(ctx.client, room_id, credential.user_id,
                                                  credential.display_name)
        except Refused as refused:
            ctx.reply(str(refused))
            return
        except rooms.RoomActionError as error:
            ctx.reply(f"I could not invite {credential.user_id}: {error}")
            return
        self._answer(ctx, self.gatekeeper.invited, room_id, credential)

    @on_event("m.room.member")
    async def member(self, ctx: Context) -> None:
        """Flag a member of a verified room who shows a name other than their verified one.

        Synapse lets only the member set their own join event, so the gatekeeper
        cannot re-state the name; it says in the room who the member really is.
        """
        event, content = ctx.event, ctx.event.content
        # A join is always sent by the member it is about (Matrix auth rules).
        if content.get("membership") != "join":
            return
        note = self.gatekeeper.name_note(ctx.session, event.room_id, event.sender,
                                         content.get("displayname"))
        if note is not None:
            self._post(ctx, note)

    # -- blocks and directory --------------------------------------------------

    @command("block", help="refuse invites from a user (or @*:server)",
             args=[Arg("user", convert=_user_id)])
    async def block(self, ctx: Context, user: str) -> None:
        self._answer(ctx, self.gatekeeper.block, user)

    @command("unblock", help="accept invites from a user again",
             args=[Arg("user", convert=_user_id)])
    async def unblock(self, ctx: Context, user: str) -> None:
        self._answer(ctx, self.gatekeeper.unblock, user)

    @command("find", help="find verified colleagues, e.g. !find cardiology MA or "
             "!find family medicine TN",
             args=[Arg("specialty", rest=True),
                   Arg("state", matches="[A-Za-z]{2}", help="a two-letter state, e.g. MA")])
    async def find(self, ctx: Context, specialty: str, state: str) -> None:
        self._answer(ctx, self.gatekeeper.find, specialty, state)

    listing = group("directory", help="whether !find lists you")

    @listing.subcommand("hide", help="opt out of !find")
    async def directory_hide(self, ctx: Context) -> None:
        self._answer(ctx, self.gatekeeper.set_listed, listed=False)

    @listing.subcommand("show", help="be listed by !find again")
    async def directory_show(self, ctx: Context) -> None:
        self._answer(ctx, self.gatekeeper.set_listed, listed=True)

    # -- answering ---------------------------------------------------------------

    def _answer(self, ctx: Context, work: Callable[Concatenate[Session, Asker, P], Reply | None],
                *args: P.args, **kwargs: P.kwargs) -> None:
        """Ask the service, in this handler's transaction, and give its answer.

        A refusal undoes what the call wrote and says why.
        """
        try:
            reply = work(ctx.session, _asker(ctx), *args, **kwargs)
        except Refused as refused:
            ctx.session.rollback()
            ctx.reply(str(refused))
            return
        if reply is None:
            return
        for post in reply.posts:
            self._post(ctx, post)
        for text in reply.preface:
            ctx.reply(text)
        ctx.reply(reply.text, reply.html)
        fax, room_id = reply.fax, ctx.event.room_id
        if fax is not None:
            self.after_commit(ctx.session, lambda: self._fax_code(fax, room_id), "fax code")
        if reply.wake_sweep:
            after_commit(ctx.session, lambda: self.supervisor.wake(SWEEP))

    @staticmethod
    def _post(ctx: Context, post: Post) -> None:
        ctx.send(post.room_id, build.notice(post.text, post.html, mentions=post.mentions))
