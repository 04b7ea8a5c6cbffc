"""Reading and writing requests: the only place the bot's handlers touch SQL.

Every change of a request's state goes through :meth:`RequestStore.move`,
which asks :func:`bots.medinfo.states.check_transition` first and writes the
audit record of the move in the same transaction; the named operations
(:meth:`~RequestStore.route`, :meth:`~RequestStore.claim`, …) only say which
columns travel with which move. Counters and timestamps that are not moves
(answers, follow-ups, reminders, feedback) are written here too, so no
handler assigns a column of a request.

The sealed part of a request (the draft with the question, a follow-up or a
file waiting for the clinician's decision, safety reports waiting for a
product, the MSL's answers kept for the response letter) is one JSON
envelope encrypted with the runtime's cipher and bound to the request id, so
it cannot be moved to another row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.medinfo.intake import Draft
from bots.medinfo.models import PvReportRow, RequestRow
from bots.medinfo.states import OPEN, Side, State, Transition, check_transition
from curbside.audit import AuditLog
from curbside.matrix.config import Cipher
from curbside.matrix.models import MatrixOutboxMessage

RECORD_TYPE = "medinfo_request"


@dataclass
class Envelope:
    """The sealed, PHI-bearing part of a request."""

    draft: Draft
    pending_text: str | None = None
    pending_file: dict[str, Any] | None = None
    pending_safety: list[dict[str, Any]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # MSL answer texts, in order
    documents: list[str] = field(default_factory=list)  # file names the MSL attached
    letter_covers: int = 0  # answers + documents in the last letter sent

    @property
    def uncovered(self) -> bool:
        """Has the thread answered something no response letter carries yet?"""
        return len(self.answers) + len(self.documents) > self.letter_covers


@dataclass(frozen=True, slots=True)
class Routing:
    """What routing settles about a request: where it went, for whom, due when."""

    sponsor_key: str
    team_room_id: str
    root_txn_id: str
    product: str
    requester: str
    priority: str
    response_mode: str | None
    routed_at: datetime
    due_at: datetime


class RequestStore:
    def __init__(self, account: str, cipher: Cipher, audit: AuditLog) -> None:
        self.account = account
        self._cipher = cipher
        self._audit = audit

    def _aad(self, request_id: str) -> bytes:
        return f"medinfo_requests.sealed_draft\x1f{request_id}".encode()

    def seal(self, row: RequestRow, envelope: Envelope) -> None:
        data = {"draft": envelope.draft.to_json(), "pending_text": envelope.pending_text,
                "pending_file": envelope.pending_file, "pending_safety": envelope.pending_safety,
                "answers": envelope.answers, "documents": envelope.documents,
                "letter_covers": envelope.letter_covers}
        row.sealed_draft = self._cipher.encrypt_bytes(json.dumps(data).encode(),
                                                      self._aad(row.id))

    def open(self, row: RequestRow) -> Envelope:
        data = json.loads(self._cipher.decrypt_bytes(row.sealed_draft, self._aad(row.id)))
        return Envelope(Draft.from_json(data["draft"]), data["pending_text"],
                        data["pending_file"], data["pending_safety"],
                        data.get("answers", []), data.get("documents", []),
                        data.get("letter_covers", 0))

    def new(self, session: Session, *, clinician: str, room_id: str, thread_root: str,
            envelope: Envelope, received_at: datetime) -> RequestRow:
        row = RequestRow(
            id=uuid.uuid4().hex[:12], clinician_id=clinician, clinician_room_id=room_id,
            clinician_thread_root=thread_root, state=State.INTAKE.value, received_at=received_at,
            answers=0, follow_ups=0, ae_reports=0,
        )
        self.seal(row, envelope)
        session.add(row)
        return row

    @staticmethod
    def by_clinician_thread(session: Session, room_id: str, root: str) -> RequestRow | None:
        return session.scalars(select(RequestRow).where(
            RequestRow.clinician_room_id == room_id, RequestRow.clinician_thread_root == root
        )).first()

    @staticmethod
    def intake_in_room(session: Session, room_id: str, clinician: str) -> RequestRow | None:
        """The clinician's conversation still in intake in this room (latest first)."""
        return session.scalars(select(RequestRow).where(
            RequestRow.clinician_room_id == room_id, RequestRow.clinician_id == clinician,
            RequestRow.state == State.INTAKE.value,
        ).order_by(RequestRow.received_at.desc())).first()

    def by_sponsor_thread(self, session: Session, root_event_id: str) -> RequestRow | None:
        """The request whose thread root in a sponsor room is ``root_event_id``."""
        return session.scalars(
            select(RequestRow).join(
                MatrixOutboxMessage,
                (MatrixOutboxMessage.txn_id == RequestRow.root_txn_id)
                & (MatrixOutboxMessage.account == self.account),
            ).where(MatrixOutboxMessage.sent_event_id == root_event_id)
        ).first()

    def acknowledge_pv(self, session: Session, event_id: str, by: str, at: datetime) -> bool:
        """Mark the PV report sent as ``event_id`` acknowledged (once); False if none is."""
        txn = session.scalars(select(MatrixOutboxMessage.txn_id).where(
            MatrixOutboxMessage.account == self.account,
            MatrixOutboxMessage.sent_event_id == event_id,
        )).first()
        if txn is None:
            return False
        report = session.scalars(select(PvReportRow).where(PvReportRow.txn_id == txn)).first()
        if report is None:
            return False
        if report.acknowledged_at is None:
            report.acknowledged_at, report.acknowledged_by = at, by
        return True

    def sponsor_root_event(self, session: Session, row: RequestRow) -> str | None:
        return session.scalars(select(MatrixOutboxMessage.sent_event_id).where(
            MatrixOutboxMessage.account == self.account,
            MatrixOutboxMessage.txn_id == row.root_txn_id,
        )).first()

    @staticmethod
    def awaiting_answer(session: Session) -> Sequence[RequestRow]:
        return session.scalars(select(RequestRow).where(
            RequestRow.state.in_([s.value for s in OPEN]), RequestRow.first_answer_at.is_(None),
            RequestRow.due_at.is_not(None),
        )).all()

    # -- moves: the one place a request's state changes ---------------------------

    def move(self, session: Session, row: RequestRow, target: State, side: Side, *,
             actor: str, reason: str = "", **details: Any) -> Transition:
        """Apply one move of the table to ``row`` and audit it; refuse any other.

        Raises :class:`bots.medinfo.states.TransitionError` (the message is
        for a person) before anything is changed; the named operations below
        write their columns only after this returned.
        """
        source = State(row.state)
        transition = check_transition(source, target, side, reason)
        row.state = target.value
        self._audit.record(session, actor=actor, action=transition.action,
                           record_type=RECORD_TYPE, record_id=row.id, reason=reason,
                           details={"from": source.value, **details})
        return transition

    def route(self, session: Session, row: RequestRow, routing: Routing, *, actor: str,
              **details: Any) -> None:
        """The confirmed request reached a team: record where, for whom and when it is due."""
        self.move(session, row, State.ROUTED, Side.DESK, actor=actor, **details)
        row.sponsor_key, row.team_room_id = routing.sponsor_key, routing.team_room_id
        row.root_txn_id, row.product = routing.root_txn_id, routing.product
        row.requester, row.priority = routing.requester, routing.priority
        row.response_mode = routing.response_mode
        row.routed_at, row.due_at = routing.routed_at, routing.due_at

    def cancel(self, session: Session, row: RequestRow, side: Side, *, actor: str,
               reason: str = "") -> None:
        """End a request still in intake; nothing of it reached a sponsor."""
        self.move(session, row, State.CANCELLED, side, actor=actor, reason=reason)

    def claim(self, session: Session, row: RequestRow, msl: str) -> None:
        """``msl`` takes the request."""
        self.move(session, row, State.CLAIMED, Side.MSL, actor=msl, by=msl)
        row.claimed_by = msl

    def close(self, session: Session, row: RequestRow, *, outcome: str, by: str,
              at: datetime) -> None:
        """An MSL closed the request with ``outcome`` (kept, cut to the column's size)."""
        self.move(session, row, State.CLOSED, Side.MSL, actor=by, reason=outcome)
        row.outcome, row.closed_at = outcome[:255], at

    # -- what is not a move --------------------------------------------------------

    @staticmethod
    def count_answer(row: RequestRow, at: datetime) -> None:
        """One more MSL message relayed to the clinician; the first one is timed."""
        row.answers += 1
        row.first_answer_at = row.first_answer_at or at

    @staticmethod
    def count_follow_up(row: RequestRow) -> None:
        row.follow_ups += 1

    @staticmethod
    def record_feedback(row: RequestRow, *, helped: bool) -> None:
        row.helped = helped

    @staticmethod
    def record_nudge(row: RequestRow, kind: str, at: datetime) -> None:
        """A service-level reminder ("remind") or escalation ("escalate") went out."""
        if kind == "remind":
            row.reminded_at = at
        else:
            row.escalated_at = at

    @staticmethod
    def add_pv_report(session: Session, row: RequestRow, **values: Any) -> None:
        """Keep one forward to pharmacovigilance and count it on the request."""
        session.add(PvReportRow(request_id=row.id, **values))
        row.ae_reports += 1
