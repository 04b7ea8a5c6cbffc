"""What the referral desk does when someone speaks to it (the service role).

    referrer thread  start ─ said (an answer, or every field pasted) ─ … ─ the draft
                     ─ file_dropped → attach ─ send        back · discard · draft_of
    recipient DM     move (accept, cancel) · decline ─ said (the reason) · schedule
                     ─ note (text) · file_dropped → note_filed (the loop closes)
    either side      status
    referrer         resend (shows the number) ─ resend confirmed (a new attempt, same packet)

Each method takes plain inputs: the session of the handler's exactly-once
transaction, who asked and where (:class:`Asker`), and the words or file.
It returns the :class:`Reply` to give in the asker's thread, or raises
:class:`Refused`, whose message is written for the person who asked; the
caller then rolls back whatever the call wrote and gives that answer.

Nothing here touches Matrix. The bot downloads (and re-uploads) files before
it calls in, posts the reply, and renders the preview or wakes the delivery job
once the transaction commits, as the reply asks. Status posts into the other
party's thread go through :class:`PartyThreads` into the outbox, in the same
transaction, so they exist exactly when the change they announce does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from bots.referral_desk import conversations, form
from bots.referral_desk.models import (
    ASKING,
    DECLINE_REASON,
    DRAFT,
    FORM,
    RECIPIENT,
    REFERRER,
    DeskConversation,
)
from bots.referral_desk.posts import PartyThreads, status_line
from curbside.credentials import active_credential, is_verified_room, verified_name
from curbside.phones import display
from referral.cases import (
    ReferralEnv,
    add_attachment,
    create_referral,
    get_referral,
    history,
    record_business_status,
    side_of,
    transition,
)
from referral.delivery import prepare_delivery, reopen_for_resend, resend_refusal
from referral.disclosures import record_note_disclosure
from referral.errors import ReferralError
from referral.models import ReferralCase
from referral.states import Side, Status, TransitionError
from referral.validation import FieldError, RecipientKind, ReferralInvalid

NOT_VERIFIED = (
    "Only verified clinicians can create or receive referrals. Verify your credential "
    "with the gatekeeper (send it !verify in a direct message), then try again."
)


@dataclass(frozen=True, slots=True)
class Asker:
    """Who said something to the desk, and where: the parts of an event its rules read."""

    user_id: str
    room_id: str
    thread_root: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer in the asker's thread, and what must follow once it is committed.

    ``preview``: the draft whose PDF the bot renders and posts into the thread.
    ``deliver``: a referral was sent; the delivery job is woken to deliver it.
    """

    text: str
    phi: bool = False
    mentions: tuple[str, ...] = ()
    preview: str | None = None
    deliver: bool = False


class Refused(Exception):
    """What was asked is not done; the message says why and what to do instead.

    The caller undoes what the call wrote (rolls the session back) and gives
    :attr:`reply`.
    """

    def __init__(self, text: str, *, phi: bool = False, mentions: Sequence[str] = ()) -> None:
        super().__init__(text)
        self.reply = Reply(text, phi=phi, mentions=tuple(mentions))


@dataclass(frozen=True, slots=True)
class FileDrop:
    """What a file dropped into a thread is for: an attachment to a draft, or a consult note."""

    referral_id: str
    consult_note: bool

    @property
    def fallback_name(self) -> str:
        """The file's name when its message gives none."""
        return "consult-note" if self.consult_note else "attachment"


@contextmanager
def _by_the_rules() -> Iterator[None]:
    """The referral rules' refusals (state table, validation, cases) become the answer.

    Their messages may quote what was entered, so they are answered as patient data.
    """
    try:
        yield
    except (ReferralError, TransitionError, FieldError) as error:
        raise Refused(str(error), phi=True) from error


def _mover(to: Status) -> Side:
    """Who may make a move by command: the referrer cancels, the recipient does the rest."""
    return Side.REFERRER if to is Status.CANCELLED else Side.RECIPIENT


class ReferralDesk:
    """The desk's answers to referrers and recipients, over the referral package's rules."""

    def __init__(
        self,
        env: ReferralEnv,
        org: form.Organisation,
        threads: PartyThreads,
        *,
        channels: Collection[str],
        clock: Callable[[], datetime],
    ) -> None:
        self.env = env
        self.org = org
        self.threads = threads
        self.channels = frozenset(channels)  # the delivery channels: "matrix", "fax"
        self.clock = clock

    # -- the referrer's thread: building a referral ----------------------------

    def start(self, session: Session, asker: Asker) -> Reply:
        """``!referral new``: the guided form begins in the asker's thread."""
        if not self._verified(session, asker.user_id):
            raise Refused(NOT_VERIFIED, mentions=[asker.user_id])
        if conversations.find(session, asker.room_id, asker.thread_root) is not None:
            raise Refused("A referral is already being prepared in this thread; answer the "
                          "question above, or !cancel it.")
        conversations.start(session, room_id=asker.room_id, thread_root=asker.thread_root,
                            user_id=asker.user_id, now=self.clock())
        first = form.pending(form.Form(), self.org)
        assert first is not None  # an empty form always has a first question
        return Reply("New referral. I will ask one question at a time in this thread; reply "
                     "here. !back goes back one question, !cancel stops. You can also paste "
                     "all fields at once (see !referral template).\n\n" + first.prompt,
                     mentions=(asker.user_id,))

    def template(self) -> Reply:
        """``!referral template``: the lines to paste, for this organisation."""
        return Reply("Paste these lines (one message, your values after the colons) into a "
                     "referral thread started with !referral new:\n\n" + form.template(self.org))

    def back(self, session: Session, asker: Asker) -> Reply:
        """``!back``: forget the last answer and ask its question again."""
        conversation = self._own_form(session, asker)
        if conversation.state != ASKING:
            raise Refused("The form is complete and the draft exists; drop files to attach, "
                          "!send it, or !cancel it.")
        state = conversations.load_form(conversation)
        if not state.answers:
            raise Refused("This is the first question; there is nothing to go back to.")
        state = form.back(state)
        conversations.save_form(conversation, state, self.clock())
        question = form.pending(state, self.org)
        assert question is not None  # an answer was just forgotten
        return Reply(question.prompt)

    def discard(self, session: Session, asker: Asker) -> Reply:
        """``!cancel`` in a form's thread: stop the form, and cancel its draft if one exists."""
        conversation = self._own_form(session, asker)
        now = self.clock()
        if conversation.referral_id is not None:
            with _by_the_rules():
                transition(session, self.env, conversation.referral_id, to=Status.CANCELLED,
                           side=Side.REFERRER, actor=asker.user_id,
                           reason="draft discarded by the referrer")
        conversations.close(conversation, now)
        return Reply("Cancelled; nothing was sent. !referral new starts again.")

    def draft_of(self, session: Session, asker: Asker) -> str:
        """``!preview``: the draft of the asker's form, whose PDF they want to see again."""
        conversation = self._own_form(session, asker)
        if conversation.referral_id is None:
            raise Refused("There is no draft yet; answer the remaining questions first.")
        return conversation.referral_id

    def send(self, session: Session, asker: Asker) -> Reply:
        """``!send``: the draft is requested and a delivery prepared for the delivery job."""
        conversation = self._own_form(session, asker)
        if conversation.state != DRAFT or conversation.referral_id is None:
            raise Refused("The form is not complete yet; answer the question above first.")
        case = get_referral(session, conversation.referral_id)
        channel = "fax" if case.kind is RecipientKind.FAX else "matrix"
        if channel not in self.channels:
            raise Refused("Faxing is not configured on this desk, so a fax number cannot "
                          "receive referrals here; ask the operator, or refer to a Matrix "
                          "member.")
        with _by_the_rules():
            transition(session, self.env, case.id, to=Status.REQUESTED, side=Side.REFERRER,
                       actor=asker.user_id)
            prepare_delivery(session, self.env, case.id, channel=channel, actor=asker.user_id)
        conversations.close(conversation, self.clock())
        way = "by fax" if channel == "fax" else "over Matrix"
        to = form.recipient_summary(case.kind, case.recipient_address, case.recipient_name)
        return Reply(f"{case.id} sent to {to} {way}. I will post every change "
                     f"of its status in this thread. !status {case.id} shows its history.",
                     deliver=True)

    def resend(self, session: Session, asker: Asker, referral_id: str, *,
               confirmed: bool) -> Reply:
        """``!resend``: fax a failed referral's sealed packet again, once the referrer has
        seen the number it will dial; ``confirmed`` opens the new attempt."""
        case = self._case_for(session, asker, referral_id, Side.REFERRER)
        if case.kind is not RecipientKind.FAX:
            raise Refused(f"{case.id} went over Matrix; only fax referrals can be resent.")
        if "fax" not in self.channels:
            raise Refused("Faxing is not configured on this desk, so nothing can be resent.")
        number = f"{display(case.recipient_address)} ({case.recipient_name})"
        if not confirmed:
            refusal = resend_refusal(session, case)
            if refusal is not None:
                raise Refused(refusal)
            return Reply(f"{case.id} will be faxed again to {number}: the same sealed packet "
                         f"({case.packet_pages} pages) as before. If that number is right, "
                         f"send !resend {case.id} confirm.", phi=True)
        with _by_the_rules():
            reopen_for_resend(session, self.env, case.id, actor=asker.user_id)
        return Reply(f"Resending {case.id} to {number}: a new delivery attempt with the same "
                     "packet. I will post how it goes in the referral's thread.",
                     phi=True, deliver=True)

    # -- plain messages and files in threads -----------------------------------

    def said(self, session: Session, asker: Asker, text: str, *,
             direct: bool = False) -> Reply | None:
        """A message that is not a command: a form answer, a decline's reason, or not ours.

        Not ours in a one-to-one chat (``direct``, outside any thread) it is
        still addressed to the desk, so the asker hears what they can do.
        """
        conversation = conversations.find(session, asker.room_id, asker.thread_root)
        if conversation is None or conversation.user_id != asker.user_id:
            return self._what_next(session, asker) if direct else None
        if conversation.purpose == DECLINE_REASON:
            return self._declined_with_reason(session, asker, conversation, text)
        if conversation.purpose == FORM:
            return self._form_answer(session, asker, conversation, text)
        return None

    def file_dropped(self, session: Session, asker: Asker) -> FileDrop | None:
        """What a file dropped in the asker's thread is for, before the bot downloads it."""
        conversation = conversations.find(session, asker.room_id, asker.thread_root)
        if conversation is not None and conversation.user_id == asker.user_id:
            if conversation.purpose != FORM:
                return None
            if conversation.state != DRAFT or conversation.referral_id is None:
                raise Refused("Please answer the remaining questions first; files dropped "
                              "here after the last one are attached to the draft.")
            return FileDrop(conversation.referral_id, consult_note=False)
        thread = conversations.referral_in_thread(session, asker.room_id, asker.thread_root)
        if thread is None or thread.role != RECIPIENT:
            return None
        case = self._case_for(session, asker, thread.referral_id, Side.RECIPIENT)
        if case.state not in (Status.ACCEPTED, Status.IN_PROGRESS):
            raise Refused(f"{case.id} is {case.status}; a consult note closes an accepted "
                          f"referral (!accept {case.id} first).")
        return FileDrop(case.id, consult_note=True)

    def attach(self, session: Session, asker: Asker, referral_id: str, name: str,
               data: bytes) -> Reply:
        """A downloaded file joins the draft; the updated preview follows."""
        with _by_the_rules():
            add_attachment(session, self.env, referral_id, actor=asker.user_id, filename=name,
                           data=data)
        return Reply(f"Attached {name}. The updated preview follows; !send when it is "
                     "complete.", phi=True, preview=referral_id)

    def note_filed(self, session: Session, asker: Asker, referral_id: str, name: str,
                   forwarded: Mapping[str, Any]) -> Reply:
        """A consult note file (already re-uploaded as ``forwarded``) closes the loop."""
        case = get_referral(session, referral_id)
        with _by_the_rules():
            self.close_loop(session, asker.user_id, case, f"on Matrix (file {name})",
                            note=f"{name} (file sent in the thread)")
        self.threads.say(session, case.id, REFERRER,
                         f"Consult note for {case.id} from {verified_name(session, asker.user_id)} "
                         "follows.", phi=True)
        self.threads.send(session, case.id, REFERRER, dict(forwarded))
        return Reply(f"Consult note sent to the referrer; {case.id} is completed.")

    # -- the recipient's side (and the referrer's cancel) ----------------------

    def move(self, session: Session, asker: Asker, referral_id: str, to: Status,
             reason: str = "") -> Reply:
        """``!accept``, ``!decline … <reason>``, ``!cancel RF-… <reason>``."""
        case = self._case_for(session, asker, referral_id, _mover(to))
        return self._move(session, asker.user_id, case, to, reason)

    def decline(self, session: Session, asker: Asker, referral_id: str,
                reason: str = "") -> Reply:
        """``!decline``: with a reason it is a move; without, the desk asks for one."""
        if reason.strip():
            return self.move(session, asker, referral_id, Status.REJECTED, reason)
        case = self._case_for(session, asker, referral_id, Side.RECIPIENT)
        if conversations.find(session, asker.room_id, asker.thread_root) is None:
            conversations.start(session, room_id=asker.room_id, thread_root=asker.thread_root,
                                user_id=asker.user_id, purpose=DECLINE_REASON,
                                referral_id=case.id, now=self.clock())
        return Reply(f"Why are you declining {case.id}? Reply in this thread with the reason; "
                     "the referrer will see it.")

    def schedule(self, session: Session, asker: Asker, referral_id: str, day: date) -> Reply:
        """``!schedule``: the appointment date, told to the referrer too."""
        case = self._case_for(session, asker, referral_id, Side.RECIPIENT)
        if day < self.clock().date():
            raise Refused(f"{day.isoformat()} is in the past; give the appointment date.")
        sender = asker.user_id
        with _by_the_rules():
            if case.state is Status.ACCEPTED:
                transition(session, self.env, case.id, to=Status.IN_PROGRESS,
                           side=Side.RECIPIENT, actor=sender)
            record_business_status(session, self.env, case.id, code="scheduled",
                                   side=Side.RECIPIENT, actor=sender, note=day.isoformat())
        text = f"{case.id}: appointment scheduled for {day.isoformat()} (by {sender})."
        self.threads.say(session, case.id, REFERRER, text, phi=True)
        return Reply(text, phi=True)

    def note(self, session: Session, asker: Asker, referral_id: str, text: str) -> Reply:
        """``!note``: the consult note as text closes the loop."""
        case = self._case_for(session, asker, referral_id, Side.RECIPIENT)
        with _by_the_rules():
            self.close_loop(session, asker.user_id, case, "on Matrix (as text)",
                            note=text)  # kept for the FHIR export
        self.threads.say(session, case.id, REFERRER, f"Consult note for {case.id} from "
                         f"{verified_name(session, asker.user_id)}:\n\n{text}", phi=True)
        return Reply(f"Consult note sent to the referrer; {case.id} is completed.")

    # -- either side -----------------------------------------------------------

    def status(self, session: Session, asker: Asker, referral_id: str) -> Reply:
        """``!status``: the case's status line and its history, for either party."""
        case = self._case_for(session, asker, referral_id, None)
        lines = [f"{case.id} to {case.recipient_name} ({case.urgency}): {case.status}"
                 + (f", {case.business_status}" if case.business_status else "")]
        for row in history(session, case.id):
            reason = f" — {row.reason}" if row.reason else ""
            lines.append(f"{row.at:%Y-%m-%d %H:%M} {row.from_status or '·'} → {row.to_status} "
                         f"by {row.actor}{reason}")
        return Reply("\n".join(lines), phi=True)

    # -- steps -----------------------------------------------------------------

    def _form_answer(self, session: Session, asker: Asker, conversation: DeskConversation,
                     text: str) -> Reply:
        """One answer or a pasted form; the next question, or the draft once none is left."""
        if conversation.state == DRAFT:
            raise Refused("The form is complete. Drop files here to attach them, !send to "
                          "send, !cancel to discard.")
        today = self.clock().date()
        state = conversations.load_form(conversation)
        errors: list[FieldError] = []
        if form.looks_pasted(text):
            state, errors = form.paste(state, text, today=today)
        else:
            try:
                state = form.answer(state, text, today=today, org=self.org)
            except FieldError as error:
                errors.append(error)
        refused = self._unverified_recipient(session, state)
        if refused is not None:
            state = form.Form(tuple(p for p in state.answers if p[0] != "recipient"))
            errors.append(refused)
        conversations.save_form(conversation, state, self.clock())
        question = form.pending(state, self.org)
        problems = "\n".join(f"• {e.message}" for e in errors)
        if question is not None:
            return Reply(f"{problems}\n\n{question.prompt}" if problems else question.prompt,
                         phi=True)
        return self._complete(session, asker, conversation, state, problems)

    def _complete(self, session: Session, asker: Asker, conversation: DeskConversation,
                  state: form.Form, problems: str) -> Reply:
        """Every question answered: the draft case exists, its preview follows."""
        try:
            with _by_the_rules():
                case = create_referral(session, self.env, form.to_request(state, self.org),
                                       referrer=asker.user_id)
        except ReferralInvalid as invalid:  # answers kept: the next answer tries again
            return Reply("\n".join(f"• {e.message}" for e in invalid.errors), phi=True)
        conversations.make_draft(conversation, case.id, self.clock())
        conversations.remember_thread(session, case.id, REFERRER, conversation.room_id,
                                      conversation.thread_root)
        lead = f"{problems}\n\n" if problems else ""
        to = form.recipient_summary(case.kind, case.recipient_address, case.recipient_name)
        return Reply(f"{lead}Draft {case.id} for {to} is ready; its preview PDF "
                     "follows. Drop files (PDF, PNG, JPEG) into this thread to attach them, "
                     "then !send. !cancel discards it.", phi=True, preview=case.id)

    def _unverified_recipient(self, session: Session, state: form.Form) -> FieldError | None:
        """A Matrix recipient must be a verified clinician or practice room, now."""
        recipient = state.as_dict().get("recipient", "")
        if recipient.startswith("@") and not self._verified(session, recipient):
            return FieldError("recipient", f"{recipient} is not a verified clinician; only "
                              "verified clinicians can receive referrals. Give another "
                              "recipient or a fax number.")
        if recipient.startswith("!") and not is_verified_room(session, recipient):
            return FieldError("recipient", f"{recipient} is not a verified practice room; "
                              "give a verified room, a verified clinician or a fax number.")
        return None

    def _declined_with_reason(self, session: Session, asker: Asker,
                              conversation: DeskConversation, reason: str) -> Reply:
        """The answer to "why?": the question closes, and the decline is made."""
        assert conversation.referral_id is not None  # a decline conversation names its case
        conversations.close(conversation, self.clock())
        try:
            case = self._case_for(session, asker, conversation.referral_id, Side.RECIPIENT)
        except Refused as refused:  # the question stays closed; only a refused move reopens it
            return refused.reply
        return self._move(session, asker.user_id, case, Status.REJECTED, reason)

    def _move(self, session: Session, sender: str, case: ReferralCase, to: Status,
              reason: str) -> Reply:
        """A party's status change: announced in both threads, refused in the table's words."""
        side = _mover(to)
        with _by_the_rules():
            transition(session, self.env, case.id, to=to, side=side, actor=sender,
                       reason=reason)
        line = status_line(case.id, to, verified_name(session, sender), reason.strip())
        other = REFERRER if side is Side.RECIPIENT else RECIPIENT
        self.threads.say(session, case.id, other, line, phi=bool(reason.strip()))
        return Reply(line, phi=bool(reason.strip()))

    def close_loop(self, session: Session, sender: str, case: ReferralCase,
                   received: str, *, note: str | None = None) -> None:
        """accepted → in-progress → completed, the note's business status and disclosure.

        ``received``: how the note came, for the disclosure ("on Matrix (as text)");
        ``note``: what the business status keeps for the FHIR export (the note's
        text, or what was sent), ``received`` when not given.
        """
        if case.state is Status.ACCEPTED:
            transition(session, self.env, case.id, to=Status.IN_PROGRESS, side=Side.RECIPIENT,
                       actor=sender)
        transition(session, self.env, case.id, to=Status.COMPLETED, side=Side.RECIPIENT,
                   actor=sender)
        record_business_status(session, self.env, case.id, code="consult-note-sent",
                               side=Side.RECIPIENT, actor=sender,
                               note=received if note is None else note)
        record_note_disclosure(session, self.env, case, received=received, actor=sender)
        self.threads.say(session, case.id, REFERRER,
                         status_line(case.id, Status.COMPLETED, verified_name(session, sender)))

    def _case_for(self, session: Session, asker: Asker, referral_id: str,
                  wanted: Side | None) -> ReferralCase:
        """The case, if the asker is a verified party on the wanted side (None: either)."""
        try:
            case = get_referral(session, referral_id)
        except ReferralError as error:
            raise Refused(str(error)) from error
        side = side_of(case, asker.user_id)
        if (side is None and case.kind is RecipientKind.MATRIX_ROOM
                and asker.room_id == case.recipient_address):
            side = Side.RECIPIENT
        if side is None:
            raise Refused(f"You are neither the referrer nor the recipient of {case.id}.")
        if wanted is not None and side is not wanted:
            raise Refused(f"Only the {wanted.value} of {case.id} can do that; you are its "
                          f"{side.value}.")
        if not self._verified(session, asker.user_id):
            raise Refused(NOT_VERIFIED, mentions=[asker.user_id])
        return case

    def _own_form(self, session: Session, asker: Asker) -> DeskConversation:
        """The form of the asker's thread, if it is theirs to change."""
        conversation = conversations.find(session, asker.room_id, asker.thread_root)
        if conversation is None or conversation.purpose != FORM:
            raise Refused("There is no referral in progress in this thread; !referral new "
                          "starts one (send the command in the thread you want to use).")
        if conversation.user_id != asker.user_id:
            raise Refused(f"This referral is being prepared by {conversation.user_id}; only "
                          "they can change it.")
        return conversation

    def _what_next(self, session: Session, asker: Asker) -> Reply:
        if not self._verified(session, asker.user_id):
            return Reply(NOT_VERIFIED)
        return Reply("I prepare and send referrals. Send !referral new to start one (I ask "
                     "one question at a time in a thread), !status RF-… to follow one, or "
                     "!help for everything I do.")

    def _verified(self, session: Session, user_id: str) -> bool:
        return active_credential(session, user_id, self.clock()) is not None
