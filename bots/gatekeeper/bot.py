"""The gatekeeper: verifies clinicians and keeps verified rooms verified.

Everything a clinician or verifier can say to the gatekeeper is declared on
:class:`GatekeeperBot`, and each handler only parses, asks the service and
answers (doing the homeserver's part itself: room creation, invites); the
work lives beside it:

    service.py       what the gatekeeper answers (the service), over the stores below
    verification.py  the !verify conversation (a table of pure steps) + its row
    fax_code.py      verification by fax: a one-time code to the NPPES practice fax
    attestation.py   !approve / !deny / !revoke, issuing and revoking the credential
    admission.py     who may be in a verified room: owners, consents, announced
                     upgrades, invite blocks (the records)
    joins.py         !join requests the room's owners accept or decline (a lifecycle)
    rooms.py         verified rooms on the homeserver: how they are made, invites
    revocation.py    the sweep (a declared periodic job): revocation, expiry,
                     deactivation, reminders
    directory.py     !find and !directory
    roster.py        bulk attestation from an organisation's roster (CLI)
    credentialing.py the credentialing team and room (a declared periodic job makes
                     the room, invites the team, posts requests that waited for it)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import nio
from sqlalchemy.orm import Session

from bots.gatekeeper import credentialing, fax_code, rooms
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.revocation import SWEEP, Sweeper
from bots.gatekeeper.service import JOIN_NOTICE_SENT, Asker, Gatekeeper, Post, Refused, Reply
from curbside import audit_anchor
from curbside.audit import AuditLog
from curbside.audit_anchor import CheckpointFile
from curbside.credentials import Credential
from curbside.database import after_commit, session_scope
from curbside.matrix import content as build
from curbside.matrix.bot import MESSAGE, Bot
from curbside.matrix.commands import Arg, command, group, on_event
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.jobs import Job, SentEvent, on_sent, periodic
from curbside.matrix.rooms import RoomCreationError
from fax_gateway import Gateway, IdempotencyConflict, InvalidDocument, InvalidNumber

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
REACTION = "m.reaction"
JOIN_REQUESTS = "join-requests"
CREDENTIALING = "credentialing-room"
CHECKPOINT = "audit-checkpoint"


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
        checkpoints: CheckpointFile | None = None,
        checkpoint_every: float = 900.0,
        gateway: Gateway | None = None,
        fax_code_key: bytes | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """``gateway`` and ``fax_code_key`` (see fax_code.derive_code_key) turn on
        verification by fax; without both, !faxcode says it is not set up."""
        super().__init__(account, config)
        self.settings = settings or GatekeeperConfig()
        self.audit = audit
        self.checkpoints = checkpoints
        self.checkpoint_every = checkpoint_every
        self.operator_room = config.operator_room
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

    #: Seconds between looks at the credentialing team (a new verifier waits at most this).
    credentialing_interval = 3.0

    @property
    def sweep_interval(self) -> float:
        """Seconds between sweeps (the option), for the periodic job."""
        return self.settings.sweep_interval

    @periodic(SWEEP, every="sweep_interval")
    async def sweep(self, job: Job) -> None:
        """Remove members whose verification ended, tell them why, remind who expires soon."""
        await self.sweeper.sweep()

    @periodic(CREDENTIALING, every="credentialing_interval")
    async def keep_credentialing_room(self, job: Job) -> None:
        """Make the credentialing room once someone is on the team, invite the team,
        and post the requests made while there was no room."""
        session = job.session
        room_id = self.gatekeeper.verifiers_room(session)
        if room_id is None:
            if not credentialing.needs_room(session):
                return
            room_id = await self.create_room(name=credentialing.ROOM_NAME,
                                             topic=credentialing.ROOM_TOPIC)
            credentialing.record_room(session, self.audit, room_id, self.account.user_id,
                                      _now())
        for verifier in credentialing.to_invite(session, room_id):
            response = await self.client.room_invite(room_id, verifier.user_id)
            if isinstance(response, nio.RoomInviteError) and "already in the room" not in (
                    response.message or ""):
                raise RuntimeError(f"could not invite a verifier to {room_id}: "
                                   f"{response.message}")
            verifier.invited_room_id = room_id
        for post in self.gatekeeper.post_waiting(session, room_id):
            job.post(post.room_id, post.text, post.html)

    @periodic(CHECKPOINT, every="checkpoint_every")
    async def audit_checkpoint(self, job: Job) -> None:
        """Anchor the audit chain outside the database: a signed checkpoint, told to the operator.

        The gatekeeper runs it because it is the one bot every deployment has.
        """
        if self.checkpoints is None:
            return
        checkpoint = self.checkpoints.take(job.session, _now())
        if checkpoint is not None and self.operator_room is not None:
            job.post(self.operator_room, audit_anchor.notice(checkpoint))

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
        """A plain message in the DM answers the pending question, or hears what to do next."""
        event = ctx.event
        if event.msgtype != "m.text" or event.body.startswith("!") or not event.body.strip():
            return
        direct = ctx.is_direct and build.thread_root_of(event) == event.event_id
        self._answer(ctx, self.gatekeeper.answer, event.body, direct=direct)

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

    @command("pending", help="(verifiers) list the requests waiting, with their evidence")
    async def pending(self, ctx: Context) -> None:
        self._answer(ctx, self.gatekeeper.pending)

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

    @verified_room.subcommand("upgrade", help="(owners) move the room to a new room version",
                              args=[Arg("room"), Arg("version", required=False,
                                                     help="room version, e.g. 11")])
    async def room_upgrade(self, ctx: Context, room: str, version: str | None = None) -> None:
        """Announce, upgrade, record the successor as verified, then re-invite the members."""
        room_id = await self._resolve(ctx, room)
        if room_id is None:
            return
        asker = _asker(ctx)
        try:
            self._committed(lambda s: self.gatekeeper.upgrade_room(s, asker, room_id))
            members = await rooms.joined_members(ctx.client, room_id)
            successor = await rooms.upgrade_room(ctx.client, room_id, version or None)
        except Refused as refused:
            ctx.reply(str(refused))
            return
        except rooms.RoomActionError as error:
            ctx.reply(f"I could not upgrade {room_id}: {error}")
            return
        others = [m for m in members if m != self.account.user_id]
        credentials = self._committed(lambda s: self.gatekeeper.room_upgraded(
            s, asker, room_id, successor, others))
        failed = await self._invite_all(ctx, successor, credentials)
        note = f" I could not invite: {', '.join(failed)}." if failed else ""
        ctx.reply(f"Upgraded {room_id} to {successor}, a verified room with the same owners; "
                  f"invited {len(credentials) - len(failed)} member(s) to it.{note}")

    @verified_room.subcommand("invites", help="(owners) who may invite: members or owners",
                              args=[Arg("who", matches="members|owners"), Arg("room")])
    async def room_invites(self, ctx: Context, who: str, room: str) -> None:
        room_id = await self._resolve(ctx, room)
        if room_id is not None:
            self._answer(ctx, self.gatekeeper.set_invites_by, room_id, who)

    owner = group("owner", help="owners of verified rooms decide who joins")

    @owner.subcommand("add", help="(owners) name another owner of a verified room",
                      args=[Arg("user", convert=_user_id), Arg("room")])
    async def owner_add(self, ctx: Context, user: str, room: str) -> None:
        room_id = await self._resolve(ctx, room)
        if room_id is not None:
            self._answer(ctx, self.gatekeeper.add_owner, room_id, user)

    @command("invite", help="invite a verified colleague to a verified room you are in",
             args=[Arg("user", convert=_user_id), Arg("room")])
    async def invite(self, ctx: Context, user: str, room: str) -> None:
        room_id = await self._resolve(ctx, room)
        if room_id is None:
            return
        asker = _asker(ctx)
        joined = await rooms.membership(ctx.client, room_id, asker.user_id) == "join"
        try:
            credential = self._committed(lambda s: self.gatekeeper.invitee(
                s, asker, room_id, user, inviter_joined=joined))
            await rooms.invite_with_verified_name(ctx.client, room_id, credential.user_id,
                                                  credential.display_name)
        except Refused as refused:
            ctx.reply(str(refused))
            return
        except rooms.RoomActionError as error:
            ctx.reply(f"I could not invite {user}: {error}")
            return
        self._answer(ctx, self.gatekeeper.invited, room_id, credential)

    @command("join", help="ask a verified room's owners to let you in", args=[Arg("room")])
    async def join(self, ctx: Context, room: str) -> None:
        room_id = await self._resolve(ctx, room)
        if room_id is None:
            return
        state = await rooms.membership(ctx.client, room_id, ctx.event.sender)
        self._answer(ctx, self.gatekeeper.join_request, room_id, member=state in (
            "join", "invite"))

    @command("accept", help="(room owners) let a clinician who asked join",
             args=[Arg("id", convert=int)])
    async def accept(self, ctx: Context, id: int) -> None:
        await self._accept(ctx, _asker(ctx), id)

    @command("decline", help="(room owners) turn down a request to join, saying why",
             args=[Arg("id", convert=int), Arg("reason", rest=True, required=False)])
    async def decline(self, ctx: Context, id: int, reason: str = "") -> None:
        self._answer(ctx, self.gatekeeper.decline_join, id, reason)

    @on_event(REACTION)
    async def reaction(self, ctx: Context) -> None:
        """👍 / 👎 on a join request's notice, by an owner, answers it."""
        relation = ctx.event.content.get("m.relates_to") or {}
        target, key = relation.get("event_id"), relation.get("key")
        if relation.get("rel_type") != "m.annotation" or not isinstance(target, str) or not (
                isinstance(key, str)):
            return
        answer = self.gatekeeper.reaction_answer(ctx.session, target, key)
        if answer is None:
            return
        request_id, accepted = answer
        if accepted:
            await self._accept(ctx, _asker(ctx), request_id)
        else:
            self._answer(ctx, self.gatekeeper.decline_join, request_id, "")

    @on_sent(JOIN_NOTICE_SENT)
    async def join_notice_sent(self, job: Job, request_id: str, sent: SentEvent) -> None:
        self.gatekeeper.join_notice_sent(job.session, int(request_id), sent.event_id)

    @periodic(JOIN_REQUESTS, every="sweep_interval")
    async def lapse_join_requests(self, job: Job) -> None:
        """Tell requesters whose request no owner answered in time."""
        for post in self.gatekeeper.expire_join_requests(job.session):
            job.post(post.room_id, post.text, post.html)

    async def _accept(self, ctx: Context, asker: Asker, request_id: int) -> None:
        try:
            request, credential = self._committed(
                lambda s: self.gatekeeper.accept_join(s, asker, request_id))
            await rooms.invite_with_verified_name(ctx.client, request.room_id,
                                                  credential.user_id, credential.display_name)
        except Refused as refused:
            ctx.reply(str(refused))
            return
        except rooms.RoomActionError as error:
            ctx.reply(f"Accepted, but I could not invite {request.user_id}: {error}")
            return
        self._answer(ctx, self.gatekeeper.join_accepted, request, credential)

    async def _resolve(self, ctx: Context, room: str) -> str | None:
        """The room id of '!id' or '#alias', or None after saying it is unknown."""
        room_id = await rooms.resolve_room(ctx.client, room)
        if room_id is None:
            ctx.reply(f"I do not know the room {room}; give its id (!…) or alias (#…).")
        return room_id

    async def _invite_all(self, ctx: Context, room_id: str, credentials: list[Credential]
                          ) -> list[str]:
        """Invite each with their verified name; the user ids that failed."""
        failed = []
        for credential in credentials:
            try:
                await rooms.invite_with_verified_name(ctx.client, room_id, credential.user_id,
                                                      credential.display_name)
            except rooms.RoomActionError:
                failed.append(credential.user_id)
        return failed

    def _committed(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in its own transaction, committed before the homeserver acts.

        The module reads consents and announced upgrades from the database in
        Synapse's process, so they must be committed before the invite or upgrade
        they allow; a :class:`Refused` rolls the work back.
        """
        with session_scope(self.config.engine) as session:
            return work(session)

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
        ctx.post(post.room_id, post.text, post.html, mentions=post.mentions,
                 on_sent=post.on_sent)
