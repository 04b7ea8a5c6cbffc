"""Answers that come back by fax: a reply sheet read, then acted on as a Matrix answer would be.

    inbound fax owned by the referral desk ─► the bot reads its pages (reply_reader)
      for each reply sheet found ─► decide(session, reading, envelope)
          the fax went *to* the referral's recipient ─► Ignore (our own packet, seen
                                                        arriving at the office)
          unclear marks, no such referral ──────────► ToCoordinator (why, and the
                                                        !faxreply command to classify it)
          otherwise ──────────────────────────────► Act(FaxAnswer)
      the bot uploads what the decision needs (note pages, written reason, the fax)
      ─► apply(session, decision, files):
          Act: the moves of :func:`moves_for`, posted in the referrer's thread (each
               walked through the state table first: one refused ─► ToCoordinator)
    !faxreply <fax> RF-… <answer> in the coordinator room ─► the same Act

What a tick means is one table (:func:`moves_for`), and every move goes
through the referral rules as the office's own answer (side: recipient,
actor ``fax:<their number>``), so it is audited and refused exactly as a
Matrix answer is. A consult note received by fax closes the loop and is a
disclosure record, as one received on Matrix. Nothing here touches Matrix:
the bot uploads files first and this module queues posts through the outbox.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pikepdf
from sqlalchemy.orm import Session

from bots.referral_desk.desk import ReferralDesk
from bots.referral_desk.models import REFERRER
from bots.referral_desk.posts import status_line
from curbside.matrix.posting import Poster
from fax_gateway import InboundEnvelope, normalise_number, rasterise_pdf
from referral.cases import RECORD_TYPE, get_referral, record_business_status, transition
from referral.documents.reply_layout import Answer
from referral.errors import ReferralError
from referral.models import ReferralCase
from referral.reply_reader import READ_DPI, Appointment, ReplyReading, as_grey, read_replies
from referral.states import (
    Side,
    Status,
    TransitionError,
    check_business_status,
    check_transition,
)
from referral.validation import RecipientKind

ACCEPTED_ALREADY = frozenset({Status.ACCEPTED, Status.IN_PROGRESS})
NOTE = "note"  # the file key of the consult-note pages
WHOLE_FAX = "fax"  # the file key of the whole fax, for the coordinator


@dataclass(frozen=True, slots=True)
class FaxAnswer:
    """One office's answer to one referral, from a sheet or a coordinator's command.

    ``reason`` is typed text (a coordinator's); a sheet's reason is its written
    lines, passed on as an image file. ``appointment`` is local time at the desk.
    """

    fax_id: str
    referral_id: str
    answers: frozenset[Answer]
    appointment: datetime | None
    note_pages: tuple[int, ...]
    actor: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Ignore:
    why: str


@dataclass(frozen=True, slots=True)
class ToCoordinator:
    fax_id: str
    referral_id: str | None
    problem: str


@dataclass(frozen=True, slots=True)
class Act:
    answer: FaxAnswer
    writing: tuple[Answer, ...] = ()  # answers whose written lines are sent as images


Decision = Ignore | ToCoordinator | Act


@dataclass(frozen=True, slots=True)
class Move:
    """One step an answer makes: a status move, or a business status with its note."""

    to: Status | None = None
    business: str = ""
    note: str = ""
    reason: str = ""


def moves_for(answer: FaxAnswer, state: Status) -> list[Move]:
    """The moves an answer means for a referral in ``state``; the state table may still refuse.

        Declined            ─► rejected (reason)
        Accepted / Scheduled ─► accepted, unless it already is (or in progress)
        Scheduled           ─► in-progress, business status "scheduled" (date and time)
        Need more info      ─► business status "more-information-requested"
        pages behind        ─► the consult note closes the loop (the desk's close_loop)
    """
    moves: list[Move] = []
    answers = answer.answers
    if Answer.DECLINED in answers:
        moves.append(Move(to=Status.REJECTED, reason=answer.reason
                          or "declined by fax; the reason written on the reply sheet follows"))
    if answers & {Answer.ACCEPTED, Answer.SCHEDULED} and state not in ACCEPTED_ALREADY:
        moves.append(Move(to=Status.ACCEPTED))  # the table refuses it from a closed referral
    if Answer.SCHEDULED in answers and answer.appointment is not None:
        if state not in (Status.IN_PROGRESS, Status.COMPLETED):
            moves.append(Move(to=Status.IN_PROGRESS))
        moves.append(Move(business="scheduled", note=f"{answer.appointment:%Y-%m-%d %H:%M}"))
    if Answer.NEED_INFO in answers:
        moves.append(Move(business="more-information-requested",
                          note=answer.reason or "asked by fax; the request follows as an image"))
    return moves


def check_moves(answer: FaxAnswer, state: Status) -> None:
    """Walk the answer's moves (and the note's) through the state table before any is made,
    so a refused one leaves nothing half-done; raises TransitionError with the table's words."""
    for move in moves_for(answer, state):
        if move.to is not None:
            check_transition(state, move.to, Side.RECIPIENT, move.reason)
            state = move.to
        else:
            check_business_status(state, move.business, Side.RECIPIENT)
    if answer.note_pages:
        if state is Status.ACCEPTED:
            check_transition(state, Status.IN_PROGRESS, Side.RECIPIENT, "")
            state = Status.IN_PROGRESS
        check_transition(state, Status.COMPLETED, Side.RECIPIENT, "")


def appointment_date(when: Appointment, today: date) -> datetime:
    """The appointment's date: the next such month and day on or after ``today``
    (the sheet has no year; an office books ahead, not back)."""
    for year in range(today.year, today.year + 9):  # 29 February comes within eight years
        try:
            day = date(year, when.month, when.day)
        except ValueError:
            continue
        if day >= today:
            return datetime.combine(day, time(when.hour, when.minute))
    raise ValueError(f"{when} is not a date")


def classify_command(fax_id: str, referral_id: str | None) -> str:
    """The command a coordinator types to classify a sheet the desk could not read."""
    rf = referral_id or "RF-…"
    return (f"!faxreply {fax_id} {rf} accepted | scheduled YYYY-MM-DD HH:MM | "
            "declined <reason> | need-info <what> | note")


class FaxReplies:
    """Turns reply sheets into the office's answers, and asks a person when unsure."""

    def __init__(self, desk: ReferralDesk, poster: Poster, *, actor: str,
                 coordinator_room: str | None, timezone: str,
                 clock: Callable[[], datetime]) -> None:
        self.desk = desk
        self.poster = poster
        self.actor = actor  # the desk's own account, for what it records on its own
        self.coordinator_room = coordinator_room
        self.zone = ZoneInfo(timezone)
        self.clock = clock

    # -- deciding ---------------------------------------------------------------

    def decide(self, session: Session, reading: ReplyReading,
               envelope: InboundEnvelope) -> Decision:
        """What to do with one sheet read from the fax ``envelope`` describes."""
        if reading.referral_id is None:
            return ToCoordinator(envelope.id, None, "; ".join(reading.unclear))
        try:
            case = get_referral(session, reading.referral_id)
        except ReferralError:
            return ToCoordinator(envelope.id, reading.referral_id,
                                 f"there is no referral {reading.referral_id}")
        if case.kind is RecipientKind.FAX and _same_number(envelope.to_number,
                                                           case.recipient_address):
            return Ignore("the fax was sent to the referral's recipient: it is our packet")
        if not reading.confident:
            return ToCoordinator(envelope.id, case.id, "; ".join(reading.unclear))
        appointment = None
        if reading.appointment is not None:
            appointment = appointment_date(reading.appointment, self._today())
        answer = FaxAnswer(envelope.id, case.id, reading.answers, appointment,
                           reading.note_pages, actor=_office(case))
        return self.settle(session, answer,
                           tuple(a for a in reading.answers if a in reading.writing))

    def settle(self, session: Session, answer: FaxAnswer,
               writing: tuple[Answer, ...] = ()) -> Act | ToCoordinator:
        """Act on the answer if the referral's state allows every move it makes."""
        case = get_referral(session, answer.referral_id)
        try:
            check_moves(answer, case.state)
        except TransitionError as refused:
            said = ", ".join(sorted(a.value for a in answer.answers)) or "a consult note"
            problem = (f"the sheet says {said}, but {case.id} is {case.status}, so nothing "
                       f"was changed ({refused})")
            return ToCoordinator(answer.fax_id, case.id, problem)
        return Act(answer, writing)

    def _today(self) -> date:
        return self.clock().astimezone(self.zone).date()

    # -- acting -----------------------------------------------------------------

    def apply(self, session: Session, decision: Decision,
              files: Mapping[str, dict[str, Any]]) -> str:
        """Carry out the decision; the line said (in the referrer's thread or to the coordinator).

        ``files``: uploaded message contents — ``NOTE`` (the consult-note pages),
        an :class:`Answer` value (its written lines), ``WHOLE_FAX``.
        """
        if isinstance(decision, Ignore):
            return decision.why
        if isinstance(decision, ToCoordinator):
            return self.to_coordinator(session, decision, files)
        return self._act(session, decision.answer, files)

    def _act(self, session: Session, answer: FaxAnswer,
             files: Mapping[str, dict[str, Any]]) -> str:
        case = get_referral(session, answer.referral_id)
        actor = answer.actor or _office(case)
        threads = self.desk.threads
        said: list[str] = []
        for move in moves_for(answer, case.state):
            if move.to is not None:
                transition(session, self.desk.env, case.id, to=move.to, side=Side.RECIPIENT,
                           actor=actor, reason=move.reason)
                line = status_line(case.id, move.to, f"fax from {case.recipient_name}",
                                   answer.reason if move.to is Status.REJECTED else "")
            else:
                record_business_status(session, self.desk.env, case.id, code=move.business,
                                       side=Side.RECIPIENT, actor=actor, note=move.note)
                line = _business_line(case, move)
            threads.say(session, case.id, REFERRER, line, phi=True)
            said.append(line)
        for written in (Answer.DECLINED, Answer.NEED_INFO):
            if written in answer.answers and written.value in files:
                threads.send(session, case.id, REFERRER, dict(files[written.value]))
        if answer.note_pages:
            self._note(session, case, answer, actor, files)
            said.append(f"consult note ({len(answer.note_pages)} pages) sent to the referrer")
        self.desk.env.audit.record(
            session, actor=actor, action="referral.fax_reply", record_type=RECORD_TYPE,
            record_id=case.id, details={
                "fax": answer.fax_id, "answers": sorted(a.value for a in answer.answers),
                "note_pages": len(answer.note_pages)})
        return "; ".join(said) or f"{case.id}: nothing to change"

    def _note(self, session: Session, case: ReferralCase, answer: FaxAnswer, actor: str,
              files: Mapping[str, dict[str, Any]]) -> None:
        pages = len(answer.note_pages)
        self.desk.close_loop(session, actor, case,
                             f"by fax ({pages} page{'s' if pages != 1 else ''}, "
                             f"fax {answer.fax_id})")
        threads = self.desk.threads
        threads.say(session, case.id, REFERRER,
                    f"Consult note for {case.id} from {case.recipient_name}, received by fax "
                    f"({pages} page{'s' if pages != 1 else ''}), follows.", phi=True)
        if NOTE in files:
            threads.send(session, case.id, REFERRER, dict(files[NOTE]))

    def to_coordinator(self, session: Session, decision: ToCoordinator,
                       files: Mapping[str, dict[str, Any]]) -> str:
        """One line and the fax's pages where a person will classify them.

        Without a coordinator room the referrer's thread gets it, so a reply
        is never silently dropped.
        """
        which = decision.referral_id or "an unknown referral (the id could not be read)"
        line = (f"Fax reply sheet for {which} (fax {decision.fax_id}) needs a person: "
                f"{decision.problem}. Classify it: "
                f"{classify_command(decision.fax_id, decision.referral_id)}")
        room = self.coordinator_room
        if room is not None:
            self.poster.post(session, room, line, phi=True)
            if WHOLE_FAX in files:
                self.poster.post(session, room, content=dict(files[WHOLE_FAX]), phi=True)
        elif decision.referral_id is not None:
            self.desk.threads.say(session, decision.referral_id, REFERRER, line, phi=True)
            if WHOLE_FAX in files:
                self.desk.threads.send(session, decision.referral_id, REFERRER,
                                       dict(files[WHOLE_FAX]))
        self.desk.env.audit.record(
            session, actor=self.actor, action="referral.fax_reply.unclear",
            record_type=RECORD_TYPE, record_id=decision.referral_id or decision.fax_id,
            details={"fax": decision.fax_id})
        return line


def read_fax(pdf: bytes) -> list[ReplyReading]:
    """Every reply sheet in a received fax (CPU bound: run it in a worker thread)."""
    pages = [as_grey(image) for image in rasterise_pdf(pdf, READ_DPI)]
    return read_replies(pages, READ_DPI)


def note_pdf(pdf: bytes, pages: tuple[int, ...]) -> bytes:
    """The consult note: those pages of the received fax, as they came (no re-encoding)."""
    with pikepdf.open(io.BytesIO(pdf)) as source, pikepdf.new() as note:
        for index in pages:
            note.pages.append(source.pages[index])
        out = io.BytesIO()
        note.save(out)
        return out.getvalue()


def _business_line(case: ReferralCase, move: Move) -> str:
    if move.business == "scheduled":
        return (f"{case.id}: appointment scheduled for {move.note} "
                f"(by fax from {case.recipient_name}).")
    return (f"{case.id}: {case.recipient_name} needs more information (by fax): "
            f"{move.note}.")


def _office(case: ReferralCase) -> str:
    """Who answers by fax, as the audit names them: the office's fax number."""
    return f"fax:{case.recipient_address}"


def _same_number(a: str, b: str) -> bool:
    try:
        return normalise_number(a) == normalise_number(b)
    except ValueError:
        return False


def parse_classification(words: str, fax_id: str, referral_id: str, actor: str,
                         note_pages: tuple[int, ...]) -> FaxAnswer:
    """A coordinator's ``!faxreply`` answer as a :class:`FaxAnswer` (ValueError says why not)."""
    verb, _, rest = words.strip().partition(" ")
    verb = verb.lower()
    rest = rest.strip()
    base = FaxAnswer(fax_id, referral_id, frozenset(), None, note_pages, actor=actor)
    if verb == "accepted":
        return _with(base, {Answer.ACCEPTED})
    if verb == "note":
        if not note_pages:
            raise ValueError("no pages follow the sheet in that fax, so there is no note")
        return base
    if verb in ("declined", "need-info"):
        if not rest:
            raise ValueError(f"'{verb}' needs the words, e.g. '{verb} fully booked until March'")
        answer = Answer.DECLINED if verb == "declined" else Answer.NEED_INFO
        return FaxAnswer(fax_id, referral_id, frozenset({answer}), None, note_pages,
                         actor=actor, reason=rest)
    if verb == "scheduled":
        try:
            when = datetime.strptime(rest, "%Y-%m-%d %H:%M")
        except ValueError:
            raise ValueError("'scheduled' needs the date and time, e.g. "
                             "'scheduled 2026-12-09 14:30'") from None
        return FaxAnswer(fax_id, referral_id, frozenset({Answer.ACCEPTED, Answer.SCHEDULED}),
                         when, note_pages, actor=actor)
    raise ValueError("the answer must be accepted, scheduled YYYY-MM-DD HH:MM, "
                     "declined <reason>, need-info <what> or note")


def _with(base: FaxAnswer, answers: set[Answer]) -> FaxAnswer:
    return FaxAnswer(base.fax_id, base.referral_id, frozenset(answers), base.appointment,
                     base.note_pages, actor=base.actor, reason=base.reason)

