"""The medinfo bot's tables.

``medinfo_requests`` holds one row per request from its first message to its
closure. What may be PHI (the question, the follow-ups waiting for a
decision) lives only in ``sealed_draft``, encrypted with the runtime's cipher
and bound to the row id; every other column is metadata safe to export.
``medinfo_pv_reports`` keeps each forward to pharmacovigilance, one per source
event, with the seconds from receipt to forward.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, UniqueConstraint
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
    # A PV team member reacted to the forwarded report (metrics: unacknowledged).
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
