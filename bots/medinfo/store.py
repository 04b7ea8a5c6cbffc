"""Reading and writing requests: the only place the bot's handlers touch SQL.

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
from curbside.matrix.config import Cipher
from curbside.matrix.models import MatrixOutboxMessage

INTAKE, ROUTED, CLAIMED, CLOSED, CANCELLED = "intake", "routed", "claimed", "closed", "cancelled"
OPEN_STATES = (ROUTED, CLAIMED)


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


class RequestStore:
    def __init__(self, account: str, cipher: Cipher) -> None:
        self.account = account
        self._cipher = cipher

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
            clinician_thread_root=thread_root, state=INTAKE, received_at=received_at,
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
            RequestRow.state == INTAKE,
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

    def sponsor_root_event(self, session: Session, row: RequestRow) -> str | None:
        return session.scalars(select(MatrixOutboxMessage.sent_event_id).where(
            MatrixOutboxMessage.account == self.account,
            MatrixOutboxMessage.txn_id == row.root_txn_id,
        )).first()

    @staticmethod
    def awaiting_answer(session: Session) -> Sequence[RequestRow]:
        return session.scalars(select(RequestRow).where(
            RequestRow.state.in_(OPEN_STATES), RequestRow.first_answer_at.is_(None),
            RequestRow.due_at.is_not(None),
        )).all()

    @staticmethod
    def add_pv_report(session: Session, **values: Any) -> None:
        session.add(PvReportRow(**values))
