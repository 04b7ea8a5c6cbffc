"""The medinfo bot's tables.

``medinfo_requests`` holds one row per request from its first message to its
closure. What may be PHI (the question, the follow-ups waiting for a
decision) lives only in ``sealed_draft``, encrypted with the runtime's cipher
and bound to the row id; every other column is metadata safe to export.
``medinfo_pv_reports`` keeps each forward to pharmacovigilance, one per source
event, with the seconds from receipt to forward, its one-business-day target
and its acknowledgement by PV (:mod:`bots.medinfo.pv_states`);
``medinfo_pv_followups`` each PV follow-up question relayed to a reporter, and
``medinfo_pv_reconciliations`` each daily reconciliation notice posted.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from curbside.database import Base


class SponsorRow(Base):
    __tablename__ = "medinfo_sponsors"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    config: Mapped[str] = mapped_column(Text, nullable=False)


class RequestRow(Base):
    __tablename__ = "medinfo_requests"
    __table_args__ = (UniqueConstraint("clinician_room_id", "clinician_thread_root"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    clinician_id: Mapped[str] = mapped_column(String(255), index=True, nullable=False)
    clinician_room_id: Mapped[str] = mapped_column(String(255), nullable=False)
    clinician_thread_root: Mapped[str] = mapped_column(String(255), nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    sealed_draft: Mapped[str] = mapped_column(Text, nullable=False)
    sponsor_key: Mapped[str | None] = mapped_column(String(64), index=True)
    product: Mapped[str | None] = mapped_column(String(128))
    priority: Mapped[str | None] = mapped_column(String(16))
    response_mode: Mapped[str | None] = mapped_column(String(16))
    requester: Mapped[str | None] = mapped_column(String(255))
    team_room_id: Mapped[str | None] = mapped_column(String(255))
    root_txn_id: Mapped[str | None] = mapped_column(String(64), index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    routed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_answer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(255))
    helped: Mapped[bool | None] = mapped_column(Boolean)
    answers: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    follow_ups: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ae_reports: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The MSL's AE/complaint determination before !close (bots.medinfo.pv_states).
    safety_determination: Mapped[str | None] = mapped_column(String(16))
    safety_determined_by: Mapped[str | None] = mapped_column(String(255))
    safety_determined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PvReportRow(Base):
    __tablename__ = "medinfo_pv_reports"

    source_event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(String(32), index=True)
    sponsor_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    forwarded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    seconds_to_forward: Mapped[float] = mapped_column(Float, nullable=False)
    txn_id: Mapped[str] = mapped_column(String(64), nullable=False)
    ref: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)  # PV-1A2B3C4D
    origin: Mapped[str] = mapped_column(String(16), nullable=False, default="screen")
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="forwarded")
    forward_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who reported, for an item with no request (a sponsored-room post); never shown to PV.
    reporter_id: Mapped[str | None] = mapped_column(String(255))


class PvFollowUpRow(Base):
    """A PV question relayed to the reporter; its thread in their room carries the answers."""

    __tablename__ = "medinfo_pv_followups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pv_ref: Mapped[str] = mapped_column(String(16), index=True, nullable=False)
    asked_by: Mapped[str] = mapped_column(String(255), nullable=False)
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    room_id: Mapped[str] = mapped_column(String(255), nullable=False)  # the reporter's room
    txn_id: Mapped[str] = mapped_column(String(64), index=True, nullable=False)
    answers: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class PvReconciliationRow(Base):
    """One daily reconciliation notice in a sponsor's PV room."""

    __tablename__ = "medinfo_pv_reconciliations"

    sponsor_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    listed: Mapped[int] = mapped_column(Integer, nullable=False)
