"""The medical-information bot: routes clinicians' questions to sponsors' MSL teams.

    clinician DM / !medinfo ─► intake table (firewall, product, urgency, response,
        consent, share, confirm) ─► thread root in the sponsor's MSL room
    MSL: !claim or a reaction ─► answer in the thread ─► relayed privately to the
        clinician's thread ◄─► follow-ups (through the firewall) ─► !close <outcome>
        ─► "did the answer help?"
    preferred response "letter": each MSL answer (and !close, if the thread said more
        than the last letter) ─► response letter PDF, encrypted m.file in the thread
    every clinician message ─► AE / complaint screen ─► PV intake in the sponsor's
        PV room at once, receipt-to-forward time kept
    @periodic service-levels (or review_service_levels(), e.g. at a manual clock) ─►
        each request on its own ─► reminder in the MSL thread, then escalation to the
        medical-information lead (a request that keeps failing is moved aside, and the
        operator told, by the runtime's supervisor; the others are reviewed)

The bot only declares what it answers to; each handler reads the event into
plain inputs, asks the desk's service (:mod:`bots.medinfo.desk`, with the
store, :mod:`~bots.medinfo.lifecycle` and the screens beside it) and gives
its answer. Matrix I/O stays here: uploading response letters between the
two halves of an MSL answer or a close, and removing intruders.

Only clinicians with an active verified credential may ask. Nothing reaches a
sponsor room that has not passed the PHI firewall, and the bot posts into a
sponsor room only while every member there is one the sponsor admitted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from bots.medinfo import service_levels
from bots.medinfo.desk import LetterFile, MedinfoDesk, Reply, Said
from bots.medinfo.lifecycle import Refused
from bots.medinfo.store import RequestStore
from curbside.audit import AuditLog
from curbside.database import session_scope
from curbside.matrix import content as build
from curbside.matrix.bot import Bot
from curbside.matrix.commands import Arg, command, on_event
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.files import AttachmentError
from curbside.matrix.jobs import Job, periodic

log = logging.getLogger(__name__)

REVIEW = "service-levels"
REVIEW_EVERY = 60.0  # seconds between service-level reviews


class MedinfoBot(Bot):
    """The MSL consult desk's Matrix presence; everything it answers to is declared here."""

    migrations_location: ClassVar[Path | None] = Path(__file__).parent / "migrations" / "versions"

    def __init__(self, account: BotAccount, config: RuntimeConfig, *, audit_key: bytes,
                 clock: service_levels.Clock | None = None,
                 review_every: float = REVIEW_EVERY) -> None:
        super().__init__(account, config)
        self.audit = AuditLog(audit_key)
        self.clock = clock or service_levels.SystemClock()
        self.review_every = review_every  # seconds between service-level reviews
        self.requests = RequestStore(account.user_id, config.cipher, self.audit)
        self.desk = MedinfoDesk(self.requests, self.audit, self.poster, self.clock,
                                people=self._people)

    # -- membership ------------------------------------------------------------

    async def should_join(self, room_id: str, inviter: str | None) -> bool:
        """Sponsor rooms: only from an admitted member; other rooms: only from a clinician."""
        with session_scope(self.config.engine) as session:
            return self.desk.may_join(session, room_id, inviter)

    @on_event("m.room.member")
    async def member(self, ctx: Context) -> None:
        """Anyone not admitted (a sales role, a stranger) invited to or joining a sponsor
        room is removed, and nothing is posted there while they are in (the desk checks)."""
        room_id = ctx.event.room_id
        intruders = self.desk.intruders(ctx.session, room_id, ctx.event.content.get("membership"))
        for user in intruders:
            await self.client.room_kick(room_id, user, reason="not admitted")
        self.desk.refused_members(ctx.session, room_id, intruders)

    # -- commands ----------------------------------------------------------------

    @command("medinfo", help="ask a sponsor's medical team a question (verified clinicians)",
             args=[Arg("question", help="your question, verbatim", rest=True)])
    async def medinfo(self, ctx: Context, question: str) -> None:
        with self._refusals(ctx):
            self._give(ctx, self.desk.ask(ctx.session, self._said(ctx), question))

    @command("claim", help="(MSL) take the request of this thread")
    async def claim(self, ctx: Context) -> None:
        with self._refusals(ctx):
            self.desk.claim(ctx.session, self._said(ctx), build.thread_root_of(ctx.event))

    @command("close", help="(MSL) close the request of this thread with its outcome",
             args=[Arg("outcome", help="e.g. answered, referred, no data", rest=True)])
    async def close(self, ctx: Context, outcome: str) -> None:
        said = self._said(ctx)
        with self._refusals(ctx):
            closing = self.desk.closing(ctx.session, said, outcome)
            uploaded = await self._upload(ctx, closing.letter)
            self._give(ctx, self.desk.close(ctx.session, said, closing, uploaded))

    @on_event("m.reaction")
    async def reaction(self, ctx: Context) -> None:
        relates = ctx.event.content.get("m.relates_to") or {}
        if relates.get("rel_type") != "m.annotation" or not relates.get("event_id"):
            return
        target = str(relates["event_id"])
        if self.desk.acknowledge_pv(ctx.session, self._said(ctx), target):
            return  # a PV team member acknowledged a safety report
        with self._refusals(ctx):
            self.desk.claim(ctx.session, self._said(ctx), target, quiet=True)

    # -- messages ----------------------------------------------------------------

    @on_event("m.room.message")
    async def message(self, ctx: Context) -> None:
        """A clinician's request, answer or follow-up; an MSL's answer, with its letter."""
        if ctx.event.body.startswith("!") or ctx.event.msgtype == "m.notice":
            return
        said = self._said(ctx)
        with self._refusals(ctx):
            relay = self.desk.said(ctx.session, said)
            if relay is not None:
                uploaded = await self._upload(ctx, relay.letter)
                # No await below: the database writes of this handler start here.
                self.desk.relay(ctx.session, said, relay, uploaded)

    # -- service levels --------------------------------------------------------------------

    @periodic(REVIEW, every="review_every")
    async def review(self, job: Job) -> None:
        """The timer of the service-level review (once at start, then every review_every s)."""
        await self.review_service_levels()

    async def review_service_levels(self) -> list[service_levels.Nudge]:
        """Remind teams of requests nearing their target; escalate overdue ones to the lead.

        Each request is reviewed in its own transaction (its nudge, its audit
        row and its mark commit together), so one that cannot be reviewed
        holds up no other; the supervisor moves it aside after repeated failures.
        """
        now = self.clock.now()
        with session_scope(self.config.engine) as session:
            waiting = [row.id for row in self.requests.awaiting_answer(session)]

        async def review_one(job: Job, request_id: str) -> service_levels.Nudge | None:
            return self.desk.nudge(job.session, request_id, now)

        nudges = await self.supervisor.each(REVIEW, waiting, review_one)
        return [nudge for nudge in nudges if nudge is not None]

    # -- between Matrix and the desk ---------------------------------------------------------

    def _said(self, ctx: Context) -> Said:
        event = ctx.event
        room = self.client.rooms.get(event.room_id)
        return Said(event.sender, event.room_id, event.event_id, build.thread_root_of(event),
                    event.body, event.msgtype, event.content, event.origin_server_ts / 1000,
                    direct=room is not None and room.member_count <= 2)

    def _people(self, room_id: str) -> Collection[str] | None:
        """Who is in or invited to a room besides the bot; None if the bot is not in it."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return None
        return (set(room.users) | set(room.invited_users)) - {self.account.user_id}

    async def _upload(self, ctx: Context, file: LetterFile | None) -> Mapping[str, Any] | None:
        """Upload a response letter (encrypted); a failure is told to the MSL and retried
        at the next answer or at !close rather than holding back the chat answer."""
        if file is None:
            return None
        try:
            return await ctx.upload_file(file.pdf, file.filename, file.mimetype)
        except AttachmentError:
            log.warning("response letter of request %s not uploaded; retried later",
                        file.request_id)
            ctx.reply(file.not_uploaded)
            return None

    @staticmethod
    def _give(ctx: Context, reply: Reply | None) -> None:
        if reply is not None:
            ctx.reply(reply.text, mentions=reply.mentions)

    @staticmethod
    @contextmanager
    def _refusals(ctx: Context) -> Iterator[None]:
        """A refusal undoes the handler's writes and says why (the messages are for people)."""
        try:
            yield
        except Refused as refused:
            ctx.session.rollback()
            ctx.reply(str(refused), mentions=refused.mentions)
