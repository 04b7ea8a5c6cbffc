"""The pharmacovigilance process that does not trust the screen (the service role).

    screen flags a clinician's message ─┐
    MSL: !safety reported <words> ──────┼─► forward: PV item PV-… in the sponsor's PV room
    screen flags a sponsored-room post ─┘   (four ICSR fields, day 0, one-business-day target;
                                             late ─► escalated to the medical-information lead)
    PV: !ack PV-… or a reaction ─► acknowledge
    PV: !followup PV-… <question> ─► the reporter's room, a thread of its own
    reporter answers in that thread ─► (PHI firewall) ─► PV, in the item's thread
    timer: escalate items unacknowledged past their target; once a day (from the
           sponsor's opening time) the reconciliation notice: every item not
           acknowledged, every request determined "reported" with no PV item

Day 0 is the first moment anyone on the sponsor's side, or the desk itself,
saw the information: the homeserver's timestamp of the clinician's message
for a screened message, the request's receipt for an MSL's determination
(the desk saw every message of the thread from then on). Every forward,
acknowledgement, follow-up, escalation and reconciliation is audited by the
store that writes it. Nothing here touches Matrix: messages go through the
:class:`~curbside.matrix.posting.Poster` in the caller's session.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bots.medinfo import routing, screens, service_levels
from bots.medinfo.lifecycle import Refused, reference
from bots.medinfo.models import PvReportRow, RequestRow
from bots.medinfo.pv_states import ItemState, ProcessError
from bots.medinfo.sponsors import Directory, Sponsor
from bots.medinfo.store import RequestStore
from curbside.matrix import content as build
from curbside.matrix.posting import Poster
from screening import identifiers

FORWARD_TARGET = "1d"  # one business day from day 0, on the sponsor's calendar
KINDS = {"ae": "adverse event", "complaint": "product complaint"}
ORIGINS = {"screen": "the desk's screen", "msl": "an MSL's determination",
           "sponsored_room": "a sponsored room's screen"}


@dataclass(frozen=True, slots=True)
class Source:
    """Where a PV item's information came from, and when the desk first saw it."""

    event_id: str  # the event that carried it (one item per event and sponsor)
    text: str  # the words to forward (redacted on the way)
    day_zero: datetime
    origin: str  # "screen" | "msl" | "sponsored_room"
    described: str  # for PV: who or what found it


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One daily notice posted: for whom, which day, and how many lines it listed."""

    sponsor_key: str
    day: str
    unacknowledged: tuple[str, ...]  # PV refs
    reported_without_item: tuple[str, ...]  # request references


class Pharmacovigilance:
    """PV items: forward, acknowledge, relay follow-ups, escalate and reconcile."""

    def __init__(self, store: RequestStore, poster: Poster, clock: service_levels.Clock, *,
                 directory: Callable[[Session], Directory]) -> None:
        self.store = store
        self.poster = poster
        self.clock = clock
        self.directory = directory
        self.account = store.account

    # -- forwarding ----------------------------------------------------------------

    def forward(self, session: Session, sponsor: Sponsor, row: RequestRow | None,
                source: Source, *, product: str, reporter: str, actor: str,
                reporter_id: str | None = None) -> PvReportRow:
        """Post one PV item in the sponsor's PV room and keep it; late ones are escalated.

        ``reporter_id``: who reported, kept (never shown to PV) for an item with
        no request, so PV's follow-ups can reach them through the desk.
        """
        screening = screens.adverse_events(source.text, names_product=True)
        due = service_levels.BusinessCalendar(sponsor.hours).due(source.day_zero,
                                                                  FORWARD_TARGET)
        ref = self.store.new_pv_ref()
        intake = routing.pv_intake(
            ref, reference(row) if row else "sponsored room", source.text, screening, product,
            reporter, day_zero=source.day_zero, forward_due=due, source=source.described)
        txn = self.poster.post(session, sponsor.pv_room_id, intake.text(), phi=True)
        forwarded = self.clock.now()
        # A screened message is timed on the wall clock, from the homeserver's timestamp
        # (the same-minute promise); an MSL's report from the request's receipt.
        seconds = (time.time() - source.day_zero.timestamp() if source.origin != "msl"
                   else (forwarded - source.day_zero).total_seconds())
        item = self.store.add_pv_report(
            session, row, actor=actor, source_event_id=source.event_id,
            sponsor_key=sponsor.key, kind=intake.kind, received_at=source.day_zero,
            forwarded_at=forwarded, seconds_to_forward=max(0.0, seconds),
            txn_id=txn, ref=ref, origin=source.origin, forward_due_at=due,
            reporter_id=reporter_id)
        if forwarded > due:
            self._escalate(session, sponsor, item, thread=None, why=(
                f"{ref} was forwarded after its one-business-day target "
                f"({_minute(due, sponsor)})"))
        return item

    # -- PV's side -----------------------------------------------------------------

    def acknowledge(self, session: Session, sender: str, room_id: str, ref: str) -> str:
        """``!ack PV-…`` in the sponsor's PV room: the answer for the sender."""
        sponsor, item = self._pv_item(session, sender, room_id, ref)
        self._acknowledge(session, sponsor, item, sender)
        return f"Acknowledged {item.ref}."

    def react(self, session: Session, sender: str, room_id: str, target: str) -> bool:
        """A reaction on a forwarded item acknowledges it; False if it was no PV item."""
        item = self.store.pv_item_by_event(session, target)
        sponsor = self.directory(session).by_room(room_id)
        if (item is None or sponsor is None or sponsor.pv_room_id != room_id
                or item.sponsor_key != sponsor.key or not _is_pv(sponsor, sender)
                or item.state != ItemState.FORWARDED.value):
            return False
        self._acknowledge(session, sponsor, item, sender)
        self.poster.post(session, room_id, f"{sender} acknowledged {item.ref}.",
                         thread=target)
        return True

    def _acknowledge(self, session: Session, sponsor: Sponsor, item: PvReportRow,
                     sender: str) -> None:
        try:
            self.store.acknowledge(session, item, by=sender, at=self.clock.now())
        except ProcessError:
            raise Refused(f"{item.ref} was already acknowledged by {item.acknowledged_by} "
                          f"on {_minute(item.acknowledged_at, sponsor)}.") from None

    def ask_reporter(self, session: Session, sender: str, room_id: str, ref: str,
                     question: str) -> str:
        """``!followup PV-… <question>``: relayed to the reporter in a thread of its own."""
        sponsor, item = self._pv_item(session, sender, room_id, ref)
        if not question.strip():
            raise Refused(f"Write the question after the reference: !followup {item.ref} "
                          "<question>.")
        row = session.get(RequestRow, item.request_id) if item.request_id else None
        reporter_room = row.clinician_room_id if row else self.store.desk_room_of(
            session, item.reporter_id)
        if reporter_room is None:
            raise Refused(f"The reporter of {item.ref} has no private chat with the desk yet; "
                          "the desk operator can ask them to start one.")
        about = f"request {reference(row)}" if row else "your post in a sponsored room"
        txn = self.poster.post(session, reporter_room, (
            f"{sponsor.name}'s pharmacovigilance team asks about the safety information "
            f"you reported ({item.ref}, {about}):\n\n{question.strip()}\n\n"
            "Reply in this thread: your answer goes to them through me, without your name "
            "unless you chose to share it. Leave out patient identifiers."), phi=True)
        self.store.add_follow_up(session, item, by=sender, at=self.clock.now(),
                                 room_id=reporter_room, txn_id=txn)
        return (f"Sent to the reporter of {item.ref} through the desk; their answer will "
                "come to this item's thread.")

    def answer(self, session: Session, sender: str, room_id: str, thread_root: str,
               text: str) -> str | None:
        """A reporter's message in a follow-up thread: to PV, or held for identifiers.

        None when the thread is no PV follow-up (or the sender is not its
        reporter); otherwise the answer for the reporter.
        """
        follow_up = self.store.follow_up_by_thread(session, room_id, thread_root)
        if follow_up is None:
            return None
        item = self.store.pv_item(session, follow_up.pv_ref)
        if item is None or self._reporter_of(session, item) != sender:
            return None
        sponsor = self.directory(session).get(item.sponsor_key)
        if sponsor is None:
            return "That sponsor is no longer served by this desk; nothing was sent."
        if findings := identifiers.find(text):
            return (f"Not sent: this seems to contain patient identifiers "
                    f"({identifiers.describe(findings)}). Write it again without them.")
        thread = self.store.pv_item_event(session, item)
        self.poster.post(session, sponsor.pv_room_id, content=build.notice(
            f"Reporter's answer to the follow-up on {item.ref}: {text}"),
            thread=thread, phi=True)
        self.store.count_follow_up_answer(session, follow_up, by=sender)
        return f"Sent to {sponsor.name}'s pharmacovigilance team ({item.ref})."

    # -- the timer -----------------------------------------------------------------

    def review(self, session: Session, sponsor_key: str,
               now: datetime) -> Reconciliation | None:
        """Escalate this sponsor's items past their target; post today's reconciliation."""
        sponsor = self.directory(session).get(sponsor_key)
        if sponsor is None:
            return None
        waiting = self.store.unacknowledged(session, sponsor.key)
        for item in waiting:
            if item.escalated_at is None and item.forward_due_at is not None \
                    and now >= _utc(item.forward_due_at):
                self._escalate(session, sponsor, item,
                               thread=self.store.pv_item_event(session, item), why=(
                                   f"{item.ref} is not acknowledged; its one-business-day "
                                   f"target was {_minute(item.forward_due_at, sponsor)}"))
        local = now.astimezone(ZoneInfo(sponsor.hours.timezone))
        if local.time() < sponsor.hours.start or self.store.reconciled(
                session, sponsor.key, local.date()):
            return None
        missing = self.store.reported_without_item(session, sponsor.key)
        self.poster.post(session, sponsor.pv_room_id,
                         _notice(sponsor, local, waiting, missing), phi=True)
        self.store.record_reconciliation(session, sponsor.key, local.date(), at=now,
                                         listed=len(waiting) + len(missing))
        return Reconciliation(sponsor.key, local.date().isoformat(),
                              tuple(i.ref for i in waiting),
                              tuple(reference(r) for r in missing))

    # -- helpers -------------------------------------------------------------------

    def _escalate(self, session: Session, sponsor: Sponsor, item: PvReportRow, *,
                  thread: str | None, why: str) -> None:
        lead = sponsor.medical_information_lead
        self.poster.post(session, sponsor.pv_room_id,
                         f"Escalation to {lead}: {why}. Acknowledge with !ack {item.ref}.",
                         mentions=[lead], thread=thread)
        self.store.record_escalation(session, item, self.clock.now())

    def _pv_item(self, session: Session, sender: str, room_id: str,
                 ref: str) -> tuple[Sponsor, PvReportRow]:
        sponsor = self.directory(session).by_room(room_id)
        if sponsor is None or sponsor.pv_room_id != room_id:
            raise Refused("Use this in your pharmacovigilance room.")
        if not _is_pv(sponsor, sender):
            raise Refused("Only the sponsor's pharmacovigilance and medical-information "
                          "members may act on PV items.")
        item = self.store.pv_item(session, ref)
        if item is None or item.sponsor_key != sponsor.key:
            raise Refused(f"No PV item {ref} for {sponsor.name}; references look like "
                          "PV-1A2B3C4D (see the item's first line).")
        return sponsor, item

    def _reporter_of(self, session: Session, item: PvReportRow) -> str | None:
        row = session.get(RequestRow, item.request_id) if item.request_id else None
        return row.clinician_id if row else item.reporter_id


def _is_pv(sponsor: Sponsor, user_id: str) -> bool:
    return sponsor.role_of(user_id) in {"pv", "medical_information"}


def _notice(sponsor: Sponsor, local: datetime, items: Sequence[PvReportRow],
            requests: Sequence[RequestRow]) -> str:
    """The reconciliation's text: references, kinds and dates only (no patient data)."""
    head = f"Daily PV reconciliation for {sponsor.name}, {local.date().isoformat()}: "
    if not items and not requests:
        return head + ("every forwarded item is acknowledged and every request determined "
                       "'reported' has its PV item.")
    lines = [head + f"{len(items)} forwarded item(s) not acknowledged, {len(requests)} "
             "request(s) determined 'reported' with no PV item."]
    if items:
        lines.append("Not acknowledged:")
        for item in items:
            overdue = (" — past target, escalated" if item.escalated_at is not None else "")
            lines.append(
                f"- {item.ref} ({KINDS.get(item.kind, item.kind)}, from "
                f"{ORIGINS.get(item.origin, item.origin)}): "
                f"day 0 {_minute(item.received_at, sponsor)}, target "
                f"{_minute(item.forward_due_at, sponsor)}{overdue}")
    if requests:
        lines.append("Determined 'reported' with no PV item:")
        for row in requests:
            lines.append(
                f"- {reference(row)} ({row.product}): determined by "
                f"{row.safety_determined_by} on {_minute(row.safety_determined_at, sponsor)}; "
                "the MSL repeats !safety reported <words> in the request's thread")
    lines.append("Acknowledge with !ack <PV-…> or a reaction on the item.")
    return "\n".join(lines)


def _minute(moment: datetime | None, sponsor: Sponsor) -> str:
    """A moment in the sponsor's zone, to the minute (how PV reads its clocks)."""
    if moment is None:
        return "unknown"
    local = _utc(moment).astimezone(ZoneInfo(sponsor.hours.timezone))
    return local.strftime(f"%Y-%m-%d %H:%M ({sponsor.hours.timezone})")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
