"""The referral desk: builds referral packets in threads and tracks them to a closed loop.

Everything a coordinator, referrer or recipient can say to the desk is
declared on :class:`ReferralDeskBot`, and each handler only parses, asks the
desk's service and answers; the work lives beside it:

    desk.py            what the desk answers (the service): forms, drafts, moves, notes
    form.py            the guided form: a table of questions and validators (pure)
    conversations.py   form state and a referral's threads, so a restart resumes
    verdicts.py        every delivery verdict recorded, and both sides told
    matrix_channel.py  delivery to a Matrix recipient: encrypted PDF in a DM, via the outbox
    fax_channel.py     delivery by fax through the gateway's outbox, and its verdicts
    fax_replies.py     answers faxed back on the packet's reply sheet, read and acted on
    fax_inbox.py       faxes owned by the desk, and the operator fax inbox room
    escalation.py      unanswered referrals escalate (injectable clock, once per level)
    posts.py           status posts into the other party's thread

    referrer thread:  !referral new ─ answers ─ files ─ preview ─ !send
                      (a failed fax: !resend RF-… ─ the number shown ─ !resend RF-… confirm)
    background (declared below, run by the runtime's supervisor):
                      deliveries (referral/delivery.py) · fax verdicts (feed) ·
                      escalations · packet sent (hook)
                      · the desk's received faxes (feed) · the operator fax inbox (feed)
    recipient DM:     packet (thread root) ─ !accept / !decline / !schedule ─ note file
    recipient by fax: the reply sheet faxed back (feed) ─ the same moves; unclear ones go
                      to the coordinator room ─ !faxreply classifies them

Handlers do their network work (downloads, uploads), then call the service,
which does the database work; a refusal rolls the handler's writes back.
Work that must follow a commit (previews, waking the delivery job) starts
after it, and deliveries are durable: a pending attempt is picked up again
by the delivery job after an outage or a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar, Concatenate, ParamSpec

from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from bots.referral_desk import form
from bots.referral_desk.config import ReferralDeskConfig
from bots.referral_desk.desk import Asker, ReferralDesk, Refused, Reply
from bots.referral_desk.escalation import Escalation, run_escalations
from bots.referral_desk.fax_channel import FaxChannel, change_outcome
from bots.referral_desk.fax_inbox import FaxInbox
from bots.referral_desk.fax_replies import (
    NOTE,
    WHOLE_FAX,
    Act,
    Decision,
    FaxReplies,
    ToCoordinator,
    note_pdf,
    parse_classification,
    read_fax,
)
from bots.referral_desk.matrix_channel import PACKET_SENT, MatrixChannel
from bots.referral_desk.models import REFERRER
from bots.referral_desk.posts import PartyThreads
from bots.referral_desk.verdicts import DeliveryVerdicts
from curbside.database import session_scope
from curbside.matrix import content as build
from curbside.matrix.bot import Bot
from curbside.matrix.commands import Arg, command, group, on_event
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.files import AttachmentError, upload_encrypted
from curbside.matrix.jobs import Job, SentEvent, feed, on_sent, periodic
from curbside.matrix.rooms import require_encrypted
from fax_gateway import (
    Disposition,
    DispositionRecord,
    Gateway,
    InboundRecord,
    JobChange,
    OwnerKind,
    RenderError,
    shared_sandbox,
)
from referral import MIGRATIONS as REFERRAL_VERSIONS
from referral.cases import RECORD_TYPE, ReferralEnv, get_referral
from referral.delivery import (
    DeliveryChannel,
    DeliveryReceipt,
    DeliveryStatus,
    deliver_pending,
    has_attempt,
)
from referral.documents.reply_layout import Answer
from referral.errors import ReferralError
from referral.packets import render_packet
from referral.states import Status

log = logging.getLogger(__name__)

MESSAGE = "m.room.message"
FILE_TYPES = ("m.file", "m.image")
ATTACHMENT_KINDS = ("pdf", "png", "jpeg")  # what a referral packet can enclose
DELIVERY_POLL = 30.0  # seconds between scans for pending deliveries (a wake comes sooner)
DESK_FAXES = "fax-received"  # the inbound-fax feed of the desk's own faxes

P = ParamSpec("P")


def _now() -> datetime:
    return datetime.now(UTC)


def _referral_id(text: str) -> str:
    value = text.strip().upper()
    if not value.startswith("RF-"):
        raise ValueError("must be a referral id like RF-7K3M9Q2X")
    return value


def _appointment(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("must be a date like 2026-12-03") from None


def _asker(ctx: Context) -> Asker:
    """Who sent the event, and where: what the desk's rules read of it."""
    return Asker(ctx.event.sender, ctx.event.room_id, build.thread_root_of(ctx.event))


class ReferralDeskBot(Bot):
    """Referrals from any Matrix client: the guided form, delivery, the closed loop."""

    migrations_location: ClassVar[Path | None] = (
        Path(__file__).resolve().parent / "migrations" / "versions"
    )

    def __init__(
        self,
        account: BotAccount,
        config: RuntimeConfig,
        *,
        env: ReferralEnv,
        settings: ReferralDeskConfig | None = None,
        gateway: Gateway | None = None,
        fax_inbox_room: str | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """``fax_inbox_room``: the operator fax inbox (``operator.fax_inbox_room``),
        where faxes nobody can receive are posted."""
        super().__init__(account, config)
        if env.documents is None:  # attachments are checked in the gateway's sandbox
            sandbox = gateway.documents if gateway is not None else shared_sandbox()
            env = dataclasses.replace(
                env, documents=functools.partial(sandbox.inspect, kinds=ATTACHMENT_KINDS)
            )
        self.env = env
        self.settings = settings or ReferralDeskConfig()
        self.gateway = gateway
        self.clock = clock
        self.escalation_interval = self.settings.escalation_interval
        channels: dict[str, DeliveryChannel] = {
            "matrix": MatrixChannel(lambda: self.client, config.engine, self.poster)
        }
        self.fax_inbox: FaxInbox | None = None
        if gateway is not None:
            channels["fax"] = FaxChannel(gateway, actor=account.user_id)
            self.fax_inbox = FaxInbox(gateway, self.poster, lambda: self.client,
                                      room_id=fax_inbox_room, actor=account.user_id)
        self.threads = PartyThreads(self.poster)
        self.channels = channels
        self.verdicts = DeliveryVerdicts(env, self.threads, actor=account.user_id)
        org = form.Organisation(self.settings.organisation_name,
                                self.settings.organisation_phone,
                                self.settings.organisation_fax)
        self.desk = ReferralDesk(env, org, self.threads, channels=channels, clock=clock)
        self.replies = FaxReplies(self.desk, self.poster, actor=account.user_id,
                                  coordinator_room=self.settings.coordinator_room,
                                  timezone=self.settings.timezone, clock=clock)

    async def start(self) -> None:
        await super().start()
        if self.gateway is not None:
            self._background.spawn(self._wake_on_inbound(), "wake desk faxes")

    async def _wake_on_inbound(self) -> None:
        """Read the inbound feed as soon as this process received a fax (else: every poll)."""
        assert self.gateway is not None  # started only with a gateway
        queue = self.gateway.subscribe_inbound()
        try:
            while True:
                await queue.get()
                self.supervisor.wake(DESK_FAXES)
        finally:
            self.gateway.unsubscribe_inbound(queue)

    @classmethod
    def version_locations(cls) -> list[Path]:
        """The kernel's, the referral package's (the desk stores cases) and its own."""
        locations = super().version_locations()
        return [*locations[:1], REFERRAL_VERSIONS, *locations[1:]]

    # -- the referrer's thread: building a referral ----------------------------

    referral = group("referral", help="start a referral, or see the format to paste one")

    @referral.subcommand("new", help="start a referral in a thread")
    async def referral_new(self, ctx: Context) -> None:
        require_encrypted(ctx.client, ctx.event.room_id)
        with self._refusals(ctx):  # the form is one thread, in a DM too
            self._give(ctx, self.desk.start(ctx.session, _asker(ctx)), start_thread=True)

    @referral.subcommand("template", help="show the paste format")
    async def referral_template(self, ctx: Context) -> None:
        self._give(ctx, self.desk.template())

    @command("back", help="in a referral thread: answer the previous question again")
    async def back(self, ctx: Context) -> None:
        self._answer(ctx, self.desk.back)

    @command("cancel", help="in a referral thread: stop the form or discard the draft; "
             "`!cancel RF-… <reason>` withdraws a sent referral",
             args=[Arg("referral_id", required=False, convert=_referral_id),
                   Arg("reason", required=False, rest=True)])
    async def cancel(self, ctx: Context, referral_id: str | None = None,
                     reason: str = "") -> None:
        if referral_id is None:
            self._answer(ctx, self.desk.discard)
        else:
            self._answer(ctx, self.desk.move, referral_id, Status.CANCELLED, reason)

    @command("preview", help="in a referral thread: show the draft's PDF again")
    async def preview(self, ctx: Context) -> None:
        with self._refusals(ctx):
            self._preview_after_commit(ctx, self.desk.draft_of(ctx.session, _asker(ctx)))

    @command("send", help="in a referral thread: send the draft to its recipient")
    async def send(self, ctx: Context) -> None:
        self._answer(ctx, self.desk.send)

    @command("resend", help="fax a failed referral again (the same packet): `!resend RF-…` "
             "shows the number, `!resend RF-… confirm` sends", args=[
                 Arg("referral_id", convert=_referral_id),
                 Arg("confirm", required=False, matches="confirm",
                     help="confirm, once you have checked the number")])
    async def resend(self, ctx: Context, referral_id: str, confirm: str | None = None) -> None:
        self._answer(ctx, self.desk.resend, referral_id, confirmed=confirm is not None)

    # -- the recipient's side --------------------------------------------------

    @command("accept", help="accept a referral sent to you", args=[
        Arg("referral_id", convert=_referral_id)])
    async def accept(self, ctx: Context, referral_id: str) -> None:
        self._answer(ctx, self.desk.move, referral_id, Status.ACCEPTED)

    @command("decline", help="decline a referral sent to you (I ask for the reason)", args=[
        Arg("referral_id", convert=_referral_id), Arg("reason", required=False, rest=True)])
    async def decline(self, ctx: Context, referral_id: str, reason: str = "") -> None:
        self._answer(ctx, self.desk.decline, referral_id, reason)

    @command("schedule", help="record the appointment date of a referral sent to you", args=[
        Arg("referral_id", convert=_referral_id), Arg("day", convert=_appointment)])
    async def schedule(self, ctx: Context, referral_id: str, day: date) -> None:
        self._answer(ctx, self.desk.schedule, referral_id, day)

    @command("note", help="send the consult note as text and close the loop "
             "(or drop the note file into the referral's thread)", args=[
                 Arg("referral_id", convert=_referral_id), Arg("text", rest=True)])
    async def note(self, ctx: Context, referral_id: str, text: str) -> None:
        self._answer(ctx, self.desk.note, referral_id, text)

    @command("faxreply", help="in the coordinator room: classify a faxed reply sheet the "
             "desk could not read: !faxreply <fax> RF-… accepted | scheduled YYYY-MM-DD HH:MM "
             "| declined <reason> | need-info <what> | note", args=[
                 Arg("fax_id", matches=r"[0-9a-f]{32}"), Arg("referral_id", convert=_referral_id),
                 Arg("answer", rest=True)])
    async def faxreply(self, ctx: Context, fax_id: str, referral_id: str, answer: str) -> None:
        """A coordinator's reading of a sheet, acted on as if the desk had read it so."""
        if self.gateway is None or ctx.event.room_id != self.settings.coordinator_room:
            ctx.reply("!faxreply works in the coordinator room, where unclear fax replies "
                      "are posted.")
            return
        try:
            pdf = await asyncio.to_thread(self.gateway.inbound_document, fax_id,
                                          actor=ctx.event.sender, reason="classify a fax reply")
        except NoResultFound:
            ctx.reply(f"There is no received fax {fax_id}; copy the id from the desk's post.")
            return
        readings = await asyncio.to_thread(read_fax, pdf)
        ours = [r for r in readings if r.referral_id in (referral_id, None)] or readings
        note_pages = ours[0].note_pages if ours else ()
        try:
            said = parse_classification(answer, fax_id, referral_id, ctx.event.sender, note_pages)
            decision = self.replies.settle(ctx.session, said)
        except ValueError as error:
            ctx.reply(f"{error}.")
            return
        except ReferralError as error:
            ctx.reply(str(error))
            return
        if isinstance(decision, ToCoordinator):
            ctx.reply(f"Nothing was changed: {decision.problem}.", phi=True)
            return
        files = await self._fax_files(decision, pdf, {})
        ctx.reply(self.replies.apply(ctx.session, decision, files), phi=True)

    # -- either side -----------------------------------------------------------

    @command("status", help="a referral's status and history", args=[
        Arg("referral_id", convert=_referral_id)])
    async def status(self, ctx: Context, referral_id: str) -> None:
        self._answer(ctx, self.desk.status, referral_id)

    # -- plain messages and files in threads ----------------------------------

    @on_event(MESSAGE)
    async def message(self, ctx: Context) -> None:
        """Answers, pasted referrals, attachments, decline reasons and consult-note files."""
        event = ctx.event
        if event.msgtype == "m.text" and not event.body.startswith("!"):
            direct = ctx.is_direct and build.thread_root_of(event) == event.event_id
            self._answer(ctx, self.desk.said, event.body, direct=direct)
        elif event.msgtype in FILE_TYPES:
            await self._file(ctx)

    async def _file(self, ctx: Context) -> None:
        """A dropped file: an attachment to a draft, or a consult note for the referrer.

        The desk says what it is for; the download (and, for a note, the upload
        forwarded to the referrer) come before the desk's writes.
        """
        event, asker = ctx.event, _asker(ctx)
        with self._refusals(ctx):
            drop = self.desk.file_dropped(ctx.session, asker)
            if drop is None:
                return
            name = str(event.content.get("filename") or event.body or drop.fallback_name)
            data = await ctx.download_file()
            if drop.consult_note:
                mimetype = str((event.content.get("info") or {}).get("mimetype")
                               or "application/octet-stream")
                forwarded = await ctx.upload_file(data, name, mimetype)
                reply = self.desk.note_filed(ctx.session, asker, drop.referral_id, name,
                                             forwarded)
            else:
                reply = self.desk.attach(ctx.session, asker, drop.referral_id, name, data)
            self._give(ctx, reply)

    # -- answering -------------------------------------------------------------

    def _answer(self, ctx: Context, work: Callable[Concatenate[Session, Asker, P], Reply | None],
                *args: P.args, **kwargs: P.kwargs) -> None:
        """Ask the desk, in this handler's transaction, and give its answer."""
        with self._refusals(ctx):
            reply = work(ctx.session, _asker(ctx), *args, **kwargs)
            if reply is not None:
                self._give(ctx, reply)

    def _give(self, ctx: Context, reply: Reply, *, start_thread: bool = False) -> None:
        """The answer (placed by the kernel's rule), then what must follow its commit."""
        ctx.reply(reply.text, mentions=reply.mentions, phi=reply.phi, start_thread=start_thread)
        if reply.preview is not None:
            self._preview_after_commit(ctx, reply.preview)
        if reply.deliver:
            self.after_commit(ctx.session, self._wake_deliveries, "wake deliveries")

    @contextmanager
    def _refusals(self, ctx: Context) -> Iterator[None]:
        """A refusal undoes the handler's writes and says why (the messages are for people)."""
        try:
            yield
        except Refused as refused:
            ctx.session.rollback()
            self._give(ctx, refused.reply)
        except AttachmentError as error:  # a file that could not be downloaded or uploaded
            ctx.session.rollback()
            ctx.reply(str(error), phi=True)

    # -- work after a commit ---------------------------------------------------

    def _preview_after_commit(self, ctx: Context, referral_id: str) -> None:
        room_id, root = ctx.event.room_id, build.thread_root_of(ctx.event)
        self.after_commit(ctx.session, lambda: self._post_preview(referral_id, room_id, root),
                          f"preview {referral_id}")

    async def _wake_deliveries(self) -> None:
        self.supervisor.wake("deliveries")

    async def _post_preview(self, referral_id: str, room_id: str, thread_root: str) -> None:
        """Render the draft's packet, upload it encrypted, post it in the referrer's thread."""

        def render() -> bytes:
            with session_scope(self.config.engine) as session:
                return render_packet(get_referral(session, referral_id)).data

        data = await asyncio.to_thread(render)
        content = await upload_encrypted(self.client, data, f"Preview {referral_id}.pdf",
                                         "application/pdf")
        with session_scope(self.config.engine) as session:
            self.poster.post(session, room_id, content=content, thread=thread_root, phi=True)
            self.env.audit.record(session, actor=self.account.user_id,
                                  action="referral.preview", record_type=RECORD_TYPE,
                                  record_id=referral_id)

    # -- background: deliveries, fax verdicts, escalations ---------------------

    @periodic("deliveries", every=DELIVERY_POLL)
    async def deliver_pending(self, job: Job) -> None:
        """Deliver every pending attempt; woken after !send commits, and on start."""
        await deliver_pending(self.config.engine, self.env, self.channels,
                              actor=self.account.user_id, record=self.verdicts.record)

    @on_sent(PACKET_SENT)
    async def packet_sent(self, job: Job, key: str, sent: SentEvent) -> None:
        """The outbox sent a packet: the referral is delivered, the event roots its thread."""
        self.verdicts.record(job.session, key, DeliveryReceipt(
            DeliveryStatus.DELIVERED, provider_ref=f"{sent.room_id} {sent.event_id}"))

    def fax_changes_after(self, after: int, limit: int) -> Sequence[JobChange]:
        """The fax gateway's job feed, for the fax-verdicts consumer."""
        if self.gateway is None:
            return ()
        return self.gateway.changes_after(after, limit)

    @feed("fax-verdicts", source="fax_changes_after", poll=0.5)
    async def fax_verdict(self, job: Job, change: JobChange) -> None:
        """A terminal fax job state for one of our attempts becomes its verdict."""
        receipt = change_outcome(change)
        if receipt is None or self.gateway is None:
            return
        key = self.gateway.job(change.job_id).idempotency_key
        if key is not None and has_attempt(job.session, key):
            self.verdicts.record(job.session, key, receipt)

    def received_after(self, after: int, limit: int) -> Sequence[InboundRecord]:
        """The fax gateway's inbound feed, for the desk's own faxes."""
        if self.gateway is None:
            return ()
        return self.gateway.received_after(after, limit)

    @feed(DESK_FAXES, source="received_after", poll=0.5)
    async def fax_received(self, job: Job, record: InboundRecord) -> None:
        """A fax owned by the desk (others are the bridge's) is accounted for, once.

        Its reply sheets are read and answered (fax_replies.py) and the fax is
        the desk's; a fax with no reply sheet goes to the operator fax inbox
        (fax_inbox.py), where a person routes it.
        """
        if self.gateway is None or record.owner.kind is not OwnerKind.REFERRAL_DESK:
            return
        if await self._answer_reply_sheets(job, record):
            self.gateway.dispose(record.id, Disposition.CONSUMED, actor=self.account.user_id,
                                 reason="a fax-back reply sheet the desk read",
                                 session=job.session)
        elif self.fax_inbox is not None:
            self.fax_inbox.take(job.session, record)

    async def _answer_reply_sheets(self, job: Job, record: InboundRecord) -> bool:
        """Read and act on each reply sheet in the fax; False when it holds none."""
        assert self.gateway is not None
        pdf = await asyncio.to_thread(self.gateway.inbound_document, record.id,
                                      actor=self.account.user_id,
                                      reason="look for a fax-back reply sheet")
        try:
            readings = await asyncio.to_thread(read_fax, pdf)
        except RenderError:  # a PDF pdfium cannot open is no reply sheet of ours
            return False
        if not readings:
            return False
        envelope = self.gateway.inbound_envelope(record.id)
        for reading in readings:
            decision = self.replies.decide(job.session, reading, envelope)
            files = await self._fax_files(decision, pdf, reading.writing)
            self.replies.apply(job.session, decision, files)
        return True

    async def _fax_files(self, decision: Decision, pdf: bytes,
                         writing: Mapping[Answer, bytes]) -> dict[str, dict[str, Any]]:
        """Upload, encrypted, what acting on ``decision`` will post."""
        files: dict[str, dict[str, Any]] = {}
        if isinstance(decision, ToCoordinator):
            files[WHOLE_FAX] = await upload_encrypted(
                self.client, pdf, f"Fax {decision.fax_id}.pdf", "application/pdf")
        elif isinstance(decision, Act):
            answer = decision.answer
            if answer.note_pages:
                note = await asyncio.to_thread(note_pdf, pdf, answer.note_pages)
                files[NOTE] = await upload_encrypted(
                    self.client, note, f"Consult note {answer.referral_id}.pdf",
                    "application/pdf")
            for written in decision.writing:
                files[written.value] = await upload_encrypted(
                    self.client, writing[written], f"{answer.referral_id} {written.value}.png",
                    "image/png")
        return files

    def dispositions_after(self, after: int, limit: int) -> Sequence[DispositionRecord]:
        """The gateway's ledger of received faxes, for the operator fax inbox."""
        if self.gateway is None:
            return ()
        return self.gateway.dispositions_after(after, limit)

    @feed("fax-operator-inbox", source="dispositions_after", poll=0.5)
    async def operator_inbox(self, job: Job, entry: DispositionRecord) -> None:
        """A fax nobody can receive goes into the operator fax inbox room."""
        if self.fax_inbox is not None:
            await self.fax_inbox.post(job.session, entry)

    @periodic("escalations", every="escalation_interval")
    async def escalate(self, job: Job) -> None:
        """One escalation pass at the desk's clock; safe to repeat (once per level)."""
        run_escalations(job.session, self.clock(), self.settings, self._post_escalation)

    def _post_escalation(self, session: Session, escalation: Escalation, text: str) -> None:
        self.threads.say(session, escalation.referral_id, REFERRER,
                         f"{escalation.referrer_user_id}: {text}")
        room = self.settings.coordinator_room
        if room is not None:
            self.poster.post(session, room, text)
