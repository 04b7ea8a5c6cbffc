"""The referral desk: builds referral packets in threads and tracks them to a closed loop.

Everything a coordinator, referrer or recipient can say to the desk is
declared on :class:`ReferralDeskBot`; the rules live beside it:

    form.py            the guided form: a table of questions and validators (pure)
    conversations.py   form state and a referral's threads, so a restart resumes
    courier.py         pending deliveries through their channels; every verdict recorded
    matrix_channel.py  delivery to a Matrix recipient: encrypted PDF in a DM, via the outbox
    fax_channel.py     delivery by fax through the gateway's outbox, and its verdicts
    escalation.py      unanswered referrals escalate (injectable clock, once per level)
    posts.py           status posts into the other party's thread

    referrer thread:  !referral new ─ answers ─ files ─ preview ─ !send
    background (declared below, run by the runtime's supervisor):
                      courier · fax verdicts (feed) · escalations · packet sent (hook)
    recipient DM:     packet (thread root) ─ !accept / !decline / !schedule ─ note file

Handlers do their network work (downloads, uploads) first and their database
writes after the last ``await``; work that must follow a commit (previews)
starts after it, and deliveries are durable: a pending attempt is picked up
again by the courier after an outage or a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import ClassVar

from sqlalchemy.orm import Session

from bots.referral_desk import conversations, form
from bots.referral_desk.config import ReferralDeskConfig
from bots.referral_desk.courier import Courier
from bots.referral_desk.escalation import Escalation, run_escalations
from bots.referral_desk.fax_channel import FaxChannel, change_outcome
from bots.referral_desk.matrix_channel import PACKET_SENT, MatrixChannel
from bots.referral_desk.models import (
    ASKING,
    CLOSED,
    DECLINE_REASON,
    DRAFT,
    FORM,
    RECIPIENT,
    REFERRER,
    DeskConversation,
)
from bots.referral_desk.posts import PartyThreads, status_line
from curbside.credentials import active_credential, is_verified_room
from curbside.database import session_scope
from curbside.matrix import content as build
from curbside.matrix.bot import Bot
from curbside.matrix.commands import Arg, command, group, on_event
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.files import AttachmentError, upload_encrypted
from curbside.matrix.jobs import Job, SentEvent, feed, on_sent, periodic
from curbside.matrix.rooms import require_encrypted
from fax_gateway import Gateway, JobChange
from referral import MIGRATIONS as REFERRAL_VERSIONS
from referral.cases import (
    RECORD_TYPE,
    ReferralEnv,
    add_attachment,
    create_referral,
    get_referral,
    history,
    record_business_status,
    side_of,
    transition,
)
from referral.delivery import (
    DeliveryChannel,
    DeliveryReceipt,
    DeliveryStatus,
    has_attempt,
    prepare_delivery,
)
from referral.errors import ReferralError
from referral.models import ReferralCase
from referral.packets import render_packet
from referral.states import Side, Status, TransitionError
from referral.validation import FieldError, RecipientKind, ReferralInvalid

log = logging.getLogger(__name__)

MESSAGE = "m.room.message"
FILE_TYPES = ("m.file", "m.image")
COURIER_POLL = 30.0  # seconds between scans for pending deliveries (a wake comes sooner)

NOT_VERIFIED = (
    "Only verified clinicians can create or receive referrals. Verify your credential "
    "with the gatekeeper (send it !verify in a direct message), then try again."
)
Refusal = (ReferralError, TransitionError, FieldError, AttachmentError)


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
        clock: Callable[[], datetime] = _now,
    ) -> None:
        super().__init__(account, config)
        self.env = env
        self.settings = settings or ReferralDeskConfig()
        self.gateway = gateway
        self.clock = clock
        self.org = form.Organisation(
            self.settings.organisation_name,
            self.settings.organisation_phone,
            self.settings.organisation_fax,
        )
        self.escalation_interval = self.settings.escalation_interval
        channels: dict[str, DeliveryChannel] = {
            "matrix": MatrixChannel(lambda: self.client, config.engine, self.poster)
        }
        if gateway is not None:
            channels["fax"] = FaxChannel(gateway, actor=account.user_id)
        self.threads = PartyThreads(self.poster)
        self.courier = Courier(env, channels, self.threads, actor=account.user_id)

    @classmethod
    def version_locations(cls) -> list[Path]:
        """The kernel's, the referral package's (the desk stores cases) and its own."""
        locations = super().version_locations()
        return [*locations[:1], REFERRAL_VERSIONS, *locations[1:]]

    # -- the referrer's thread: building a referral ----------------------------

    referral = group("referral", help="start a referral, or see the format to paste one")

    @referral.subcommand("new", help="start a referral in a thread")
    async def referral_new(self, ctx: Context) -> None:
        event, session = ctx.event, ctx.session
        require_encrypted(ctx.client, event.room_id)
        if active_credential(session, event.sender, self.clock()) is None:
            ctx.reply(NOT_VERIFIED, mentions=[event.sender])
            return
        root = build.thread_root_of(event)
        if conversations.find(session, event.room_id, root) is not None:
            ctx.reply("A referral is already being prepared in this thread; answer the "
                      "question above, or !cancel it.")
            return
        conversations.start(session, room_id=event.room_id, thread_root=root,
                            user_id=event.sender, now=self.clock())
        first = form.pending(form.Form(), self.org)
        assert first is not None  # an empty form always has a first question
        ctx.reply("New referral. I will ask one question at a time in this thread; reply "
                  "here. !back goes back one question, !cancel stops. You can also paste all "
                  "fields at once (see !referral template).\n\n" + first.prompt,
                  mentions=[event.sender])

    @referral.subcommand("template", help="show the paste format")
    async def referral_template(self, ctx: Context) -> None:
        ctx.reply("Paste these lines (one message, your values after the colons) into a "
                  "referral thread started with !referral new:\n\n" + form.template(self.org))

    @command("back", help="in a referral thread: answer the previous question again")
    async def back(self, ctx: Context) -> None:
        conversation = self._own_form(ctx)
        if conversation is None:
            return
        if conversation.state != ASKING:
            ctx.reply("The form is complete and the draft exists; drop files to attach, "
                      "!send it, or !cancel it.")
            return
        state = conversations.load_form(conversation)
        if not state.answers:
            ctx.reply("This is the first question; there is nothing to go back to.")
            return
        state = form.back(state)
        conversations.save_form(conversation, state, self.clock())
        question = form.pending(state, self.org)
        assert question is not None  # an answer was just forgotten
        ctx.reply(question.prompt)

    @command("cancel", help="in a referral thread: stop the form or discard the draft; "
             "`!cancel RF-… <reason>` withdraws a sent referral",
             args=[Arg("referral_id", required=False, convert=_referral_id),
                   Arg("reason", required=False, rest=True)])
    async def cancel(self, ctx: Context, referral_id: str | None = None,
                     reason: str = "") -> None:
        if referral_id is not None:
            await self._move(ctx, referral_id, Status.CANCELLED, reason)
            return
        conversation = self._own_form(ctx)
        if conversation is None:
            return
        now = self.clock()
        try:
            if conversation.referral_id is not None:
                transition(ctx.session, self.env, conversation.referral_id,
                           to=Status.CANCELLED, side=Side.REFERRER, actor=ctx.event.sender,
                           reason="draft discarded by the referrer")
        except Refusal as error:
            self._refuse(ctx, error)
            return
        conversations.set_state(conversation, CLOSED, now)
        ctx.reply("Cancelled; nothing was sent. !referral new starts again.")

    @command("preview", help="in a referral thread: show the draft's PDF again")
    async def preview(self, ctx: Context) -> None:
        conversation = self._own_form(ctx)
        if conversation is None:
            return
        if conversation.referral_id is None:
            ctx.reply("There is no draft yet; answer the remaining questions first.")
            return
        self._preview_after_commit(ctx.session, conversation)

    @command("send", help="in a referral thread: send the draft to its recipient")
    async def send(self, ctx: Context) -> None:
        conversation = self._own_form(ctx)
        if conversation is None:
            return
        if conversation.state != DRAFT or conversation.referral_id is None:
            ctx.reply("The form is not complete yet; answer the question above first.")
            return
        session, sender = ctx.session, ctx.event.sender
        case = get_referral(session, conversation.referral_id)
        channel = "fax" if case.kind is RecipientKind.FAX else "matrix"
        if channel not in self.courier.channels:
            ctx.reply("Faxing is not configured on this desk, so a fax number cannot receive "
                      "referrals here; ask the operator, or refer to a Matrix member.")
            return
        try:
            transition(session, self.env, case.id, to=Status.REQUESTED, side=Side.REFERRER,
                       actor=sender)
            prepare_delivery(session, self.env, case.id, channel=channel, actor=sender)
        except Refusal as error:
            self._refuse(ctx, error)
            return
        conversations.set_state(conversation, CLOSED, self.clock())
        way = "by fax" if channel == "fax" else "over Matrix"
        to = form.recipient_summary(case.kind, case.recipient_address, case.recipient_name)
        ctx.reply(f"{case.id} sent to {to} {way}. I will post every change "
                  f"of its status in this thread. !status {case.id} shows its history.")
        self.after_commit(session, self._wake_courier, "wake courier")

    # -- the recipient's side --------------------------------------------------

    @command("accept", help="accept a referral sent to you", args=[
        Arg("referral_id", convert=_referral_id)])
    async def accept(self, ctx: Context, referral_id: str) -> None:
        await self._move(ctx, referral_id, Status.ACCEPTED)

    @command("decline", help="decline a referral sent to you (I ask for the reason)", args=[
        Arg("referral_id", convert=_referral_id), Arg("reason", required=False, rest=True)])
    async def decline(self, ctx: Context, referral_id: str, reason: str = "") -> None:
        if reason.strip():
            await self._move(ctx, referral_id, Status.REJECTED, reason)
            return
        case = self._case_for(ctx, referral_id, Side.RECIPIENT)
        if case is None:
            return
        root = build.thread_root_of(ctx.event)
        if conversations.find(ctx.session, ctx.event.room_id, root) is None:
            conversations.start(ctx.session, room_id=ctx.event.room_id, thread_root=root,
                                user_id=ctx.event.sender, purpose=DECLINE_REASON,
                                referral_id=case.id, now=self.clock())
        ctx.reply(f"Why are you declining {case.id}? Reply in this thread with the reason; "
                  "the referrer will see it.")

    @command("schedule", help="record the appointment date of a referral sent to you", args=[
        Arg("referral_id", convert=_referral_id), Arg("day", convert=_appointment)])
    async def schedule(self, ctx: Context, referral_id: str, day: date) -> None:
        case = self._case_for(ctx, referral_id, Side.RECIPIENT)
        if case is None:
            return
        if day < self.clock().date():
            ctx.reply(f"{day.isoformat()} is in the past; give the appointment date.")
            return
        session, sender = ctx.session, ctx.event.sender
        try:
            if case.state is Status.ACCEPTED:
                transition(session, self.env, case.id, to=Status.IN_PROGRESS,
                           side=Side.RECIPIENT, actor=sender)
            record_business_status(session, self.env, case.id, code="scheduled",
                                   side=Side.RECIPIENT, actor=sender, note=day.isoformat())
        except Refusal as error:
            self._refuse(ctx, error)
            return
        text = f"{case.id}: appointment scheduled for {day.isoformat()} (by {sender})."
        self._say(session, case.id, REFERRER, text, phi=True)
        ctx.reply(text, phi=True)

    @command("note", help="send the consult note as text and close the loop "
             "(or drop the note file into the referral's thread)", args=[
                 Arg("referral_id", convert=_referral_id), Arg("text", rest=True)])
    async def note(self, ctx: Context, referral_id: str, text: str) -> None:
        case = self._case_for(ctx, referral_id, Side.RECIPIENT)
        if case is None:
            return
        try:
            self._close_loop(ctx, case, "consult note (text)")
        except Refusal as error:
            self._refuse(ctx, error)
            return
        self._say(ctx.session, case.id, REFERRER, f"Consult note for {case.id} from "
                   f"{ctx.event.sender}:\n\n{text}", phi=True)
        ctx.reply(f"Consult note sent to the referrer; {case.id} is completed.")

    # -- either side -----------------------------------------------------------

    @command("status", help="a referral's status and history", args=[
        Arg("referral_id", convert=_referral_id)])
    async def status(self, ctx: Context, referral_id: str) -> None:
        case = self._case_for(ctx, referral_id, None)
        if case is None:
            return
        lines = [f"{case.id} to {case.recipient_name} ({case.urgency}): {case.status}"
                 + (f", {case.business_status}" if case.business_status else "")]
        for row in history(ctx.session, case.id):
            reason = f" — {row.reason}" if row.reason else ""
            lines.append(f"{row.at:%Y-%m-%d %H:%M} {row.from_status or '·'} → {row.to_status} "
                         f"by {row.actor}{reason}")
        ctx.reply("\n".join(lines), phi=True)

    # -- plain messages and files in threads ----------------------------------

    @on_event(MESSAGE)
    async def message(self, ctx: Context) -> None:
        """Answers, pasted referrals, attachments, decline reasons and consult-note files."""
        event = ctx.event
        kind = event.msgtype
        if kind not in ("m.text", *FILE_TYPES) or (kind == "m.text" and
                                                   event.body.startswith("!")):
            return
        root = build.thread_root_of(event)
        conversation = conversations.find(ctx.session, event.room_id, root)
        if conversation is not None and conversation.user_id == event.sender:
            if conversation.purpose == DECLINE_REASON and kind == "m.text":
                await self._declined_with_reason(ctx, conversation)
            elif conversation.purpose == FORM and kind == "m.text":
                self._form_answer(ctx, conversation)
            elif conversation.purpose == FORM:
                await self._attachment(ctx, conversation)
            return
        if kind in FILE_TYPES:
            thread = conversations.referral_in_thread(ctx.session, event.room_id, root)
            if thread is not None and thread.role == RECIPIENT:
                await self._note_file(ctx, thread.referral_id)

    def _form_answer(self, ctx: Context, conversation: DeskConversation) -> None:
        if conversation.state == DRAFT:
            ctx.reply("The form is complete. Drop files here to attach them, !send to send, "
                      "!cancel to discard.")
            return
        today, text = self.clock().date(), ctx.event.body
        state = conversations.load_form(conversation)
        errors: list[FieldError] = []
        if form.looks_pasted(text):
            state, errors = form.paste(state, text, today=today)
        else:
            try:
                state = form.answer(state, text, today=today, org=self.org)
            except FieldError as error:
                errors.append(error)
        refused = self._unverified_recipient(ctx.session, state)
        if refused is not None:
            state = form.Form(tuple(p for p in state.answers if p[0] != "recipient"))
            errors.append(refused)
        conversations.save_form(conversation, state, self.clock())
        question = form.pending(state, self.org)
        problems = "\n".join(f"• {e.message}" for e in errors)
        if question is not None:
            ctx.reply(f"{problems}\n\n{question.prompt}" if problems else question.prompt,
                      phi=True)
            return
        self._complete(ctx, conversation, state, problems)

    def _complete(self, ctx: Context, conversation: DeskConversation, state: form.Form,
                  problems: str) -> None:
        sender = ctx.event.sender
        try:
            case = create_referral(ctx.session, self.env, form.to_request(state, self.org),
                                   referrer=sender)
        except ReferralInvalid as invalid:
            ctx.reply("\n".join(f"• {e.message}" for e in invalid.errors), phi=True)
            return
        except Refusal as error:
            self._refuse(ctx, error)
            return
        conversation.referral_id = case.id
        conversations.set_state(conversation, DRAFT, self.clock())
        conversations.remember_thread(ctx.session, case.id, REFERRER, conversation.room_id,
                                      conversation.thread_root)
        lead = f"{problems}\n\n" if problems else ""
        to = form.recipient_summary(case.kind, case.recipient_address, case.recipient_name)
        ctx.reply(f"{lead}Draft {case.id} for {to} is ready; its preview PDF "
                  "follows. Drop files (PDF, PNG, JPEG) into this thread to attach them, then "
                  "!send. !cancel discards it.", phi=True)
        self._preview_after_commit(ctx.session, conversation)

    def _unverified_recipient(self, session: Session, state: form.Form) -> FieldError | None:
        """A Matrix recipient must be a verified clinician or practice room, now."""
        recipient = state.as_dict().get("recipient", "")
        if recipient.startswith("@") and active_credential(session, recipient,
                                                           self.clock()) is None:
            return FieldError("recipient", f"{recipient} is not a verified clinician; only "
                              "verified clinicians can receive referrals. Give another "
                              "recipient or a fax number.")
        if recipient.startswith("!") and not is_verified_room(session, recipient):
            return FieldError("recipient", f"{recipient} is not a verified practice room; "
                              "give a verified room, a verified clinician or a fax number.")
        return None

    async def _attachment(self, ctx: Context, conversation: DeskConversation) -> None:
        if conversation.state != DRAFT or conversation.referral_id is None:
            ctx.reply("Please answer the remaining questions first; files dropped here after "
                      "the last one are attached to the draft.")
            return
        name = str(ctx.event.content.get("filename") or ctx.event.body or "attachment")
        try:
            data = await ctx.download_file()
            add_attachment(ctx.session, self.env, conversation.referral_id,
                           actor=ctx.event.sender, filename=name, data=data)
        except Refusal as error:
            self._refuse(ctx, error)
            return
        ctx.reply(f"Attached {name}. The updated preview follows; !send when it is complete.",
                  phi=True)
        self._preview_after_commit(ctx.session, conversation)

    async def _declined_with_reason(self, ctx: Context, conversation: DeskConversation) -> None:
        assert conversation.referral_id is not None  # a decline conversation names its case
        conversations.set_state(conversation, CLOSED, self.clock())
        await self._move(ctx, conversation.referral_id, Status.REJECTED, ctx.event.body)

    async def _note_file(self, ctx: Context, referral_id: str) -> None:
        case = self._case_for(ctx, referral_id, Side.RECIPIENT)
        if case is None:
            return
        if case.state not in (Status.ACCEPTED, Status.IN_PROGRESS):
            ctx.reply(f"{case.id} is {case.status}; a consult note closes an accepted "
                      f"referral (!accept {case.id} first).")
            return
        name = str(ctx.event.content.get("filename") or ctx.event.body or "consult-note")
        mimetype = str((ctx.event.content.get("info") or {}).get("mimetype")
                       or "application/octet-stream")
        try:
            data = await ctx.download_file()
            forwarded = await ctx.upload_file(data, name, mimetype)
            self._close_loop(ctx, case, name)
        except Refusal as error:
            self._refuse(ctx, error)
            return
        self._say(ctx.session, case.id, REFERRER,
                   f"Consult note for {case.id} from {ctx.event.sender} follows.", phi=True)
        self.threads.send(ctx.session, case.id, REFERRER, forwarded)
        ctx.reply(f"Consult note sent to the referrer; {case.id} is completed.")

    def _close_loop(self, ctx: Context, case: ReferralCase, what: str) -> None:
        """accepted → in-progress → completed, with the business status of the note."""
        session, sender = ctx.session, ctx.event.sender
        if case.state is Status.ACCEPTED:
            transition(session, self.env, case.id, to=Status.IN_PROGRESS, side=Side.RECIPIENT,
                       actor=sender)
        transition(session, self.env, case.id, to=Status.COMPLETED, side=Side.RECIPIENT,
                   actor=sender)
        record_business_status(session, self.env, case.id, code="consult-note-sent",
                               side=Side.RECIPIENT, actor=sender, note=what)
        self._say(session, case.id, REFERRER, status_line(case.id, Status.COMPLETED, sender))

    # -- shared steps ----------------------------------------------------------

    async def _move(self, ctx: Context, referral_id: str, to: Status, reason: str = "") -> None:
        """A party's status change; announced in both threads, refused with the table's word."""
        wanted = Side.REFERRER if to is Status.CANCELLED else Side.RECIPIENT
        case = self._case_for(ctx, referral_id, wanted)
        if case is None:
            return
        sender = ctx.event.sender
        try:
            transition(ctx.session, self.env, case.id, to=to, side=wanted, actor=sender,
                       reason=reason)
        except Refusal as error:
            self._refuse(ctx, error)
            return
        line = status_line(case.id, to, sender, reason.strip())
        other = REFERRER if wanted is Side.RECIPIENT else RECIPIENT
        self._say(ctx.session, case.id, other, line, phi=bool(reason.strip()))
        ctx.reply(line, phi=bool(reason.strip()))

    def _case_for(self, ctx: Context, referral_id: str, wanted: Side | None
                  ) -> ReferralCase | None:
        """The case if the sender is a verified party on the wanted side; else a clear reply."""
        session, sender = ctx.session, ctx.event.sender
        try:
            case = get_referral(session, referral_id)
        except ReferralError as error:
            ctx.reply(str(error))
            return None
        side = side_of(case, sender)
        if (side is None and case.kind is RecipientKind.MATRIX_ROOM
                and ctx.event.room_id == case.recipient_address):
            side = Side.RECIPIENT
        if side is None:
            ctx.reply(f"You are neither the referrer nor the recipient of {case.id}.")
            return None
        if wanted is not None and side is not wanted:
            ctx.reply(f"Only the {wanted.value} of {case.id} can do that; you are its "
                      f"{side.value}.")
            return None
        if active_credential(session, sender, self.clock()) is None:
            ctx.reply(NOT_VERIFIED, mentions=[sender])
            return None
        return case

    def _own_form(self, ctx: Context) -> DeskConversation | None:
        root = build.thread_root_of(ctx.event)
        conversation = conversations.find(ctx.session, ctx.event.room_id, root)
        if conversation is None or conversation.purpose != FORM:
            ctx.reply("There is no referral in progress in this thread; !referral new starts "
                      "one (send the command in the thread you want to use).")
            return None
        if conversation.user_id != ctx.event.sender:
            ctx.reply(f"This referral is being prepared by {conversation.user_id}; only they "
                      "can change it.")
            return None
        return conversation

    @staticmethod
    def _refuse(ctx: Context, error: Exception) -> None:
        """Undo the handler's writes and say why (the messages are written for people)."""
        ctx.session.rollback()
        ctx.reply(str(error), phi=True)

    def _say(self, session: Session, referral_id: str, role: str, text: str, *,
             phi: bool = False) -> None:
        self.threads.say(session, referral_id, role, text, phi=phi)

    # -- work after a commit ---------------------------------------------------

    def _preview_after_commit(self, session: Session, conversation: DeskConversation) -> None:
        referral_id = conversation.referral_id
        assert referral_id is not None  # a draft exists when a preview is asked for
        room_id, root = conversation.room_id, conversation.thread_root
        self.after_commit(session, lambda: self._post_preview(referral_id, room_id, root),
                          f"preview {referral_id}")

    async def _wake_courier(self) -> None:
        self.supervisor.wake("courier")

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

    @periodic("courier", every=COURIER_POLL)
    async def deliver_pending(self, job: Job) -> None:
        """Deliver every pending attempt; woken after !send commits, and on start."""
        await self.courier.deliver_pending(self.config.engine)

    @on_sent(PACKET_SENT)
    async def packet_sent(self, job: Job, key: str, sent: SentEvent) -> None:
        """The outbox sent a packet: the referral is delivered, the event roots its thread."""
        self.courier.record(job.session, key, DeliveryReceipt(
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
            self.courier.record(job.session, key, receipt)

    @periodic("escalations", every="escalation_interval")
    async def escalate(self, job: Job) -> None:
        """One escalation pass at the desk's clock; safe to repeat (once per level)."""
        run_escalations(job.session, self.clock(), self.settings, self._post_escalation)

    def _post_escalation(self, session: Session, escalation: Escalation, text: str) -> None:
        self._say(session, escalation.referral_id, REFERRER,
                  f"{escalation.referrer_user_id}: {text}")
        room = self.settings.coordinator_room
        if room is not None:
            self.poster.post(session, room, text)
