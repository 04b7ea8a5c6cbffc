"""Referral tables. PHI columns are :class:`EncryptedText`; the rest is not PHI.

    referral_cases ─┬─< referral_history          (every status move)
                    ├─< referral_business_statuses (BSeR-style side channel)
                    ├─< referral_attachments       (bytes sealed with FieldCipher)
                    ├─< referral_deliveries        (one row per delivery attempt)
                    └─< referral_disclosures       (accounting of disclosures)

The referring clinician's credential (name, NPI, specialty) is copied onto
the case when it is created: the letter must say who referred even after the
credential expires, and the same case must always render the same packet.
``patient_index`` is a keyed blind index (see :mod:`referral.disclosures`), the
one way to find a patient's cases without decrypting the table.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from curbside.database import Base
from curbside.phi import EncryptedText
from referral.states import Status
from referral.validation import RecipientKind


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ReferralCase(Base):
    __tablename__ = "referral_cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    business_status: Mapped[str | None] = mapped_column(String(40))
    business_status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    patient_name: Mapped[str] = mapped_column(EncryptedText("referral_cases.patient_name"))
    patient_dob: Mapped[str] = mapped_column(EncryptedText("referral_cases.patient_dob"))
    patient_sex: Mapped[str] = mapped_column(EncryptedText("referral_cases.patient_sex"))
    patient_mrn: Mapped[str] = mapped_column(EncryptedText("referral_cases.patient_mrn"))
    patient_phone: Mapped[str] = mapped_column(EncryptedText("referral_cases.patient_phone"))
    payer: Mapped[str] = mapped_column(EncryptedText("referral_cases.payer"))
    member_id: Mapped[str] = mapped_column(EncryptedText("referral_cases.member_id"))
    patient_index: Mapped[str] = mapped_column(String(64), index=True)

    referring_org_name: Mapped[str] = mapped_column(String(200))
    referring_org_phone: Mapped[str] = mapped_column(String(20))
    referring_org_fax: Mapped[str] = mapped_column(String(20))
    referrer_user_id: Mapped[str] = mapped_column(String(255), index=True)
    referrer_name: Mapped[str] = mapped_column(String(255))
    referrer_credential: Mapped[str] = mapped_column(String(64))
    referrer_npi: Mapped[str] = mapped_column(String(10))
    referrer_specialty: Mapped[str] = mapped_column(String(255))

    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_address: Mapped[str] = mapped_column(String(255), index=True)
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_phone: Mapped[str] = mapped_column(String(20))

    reason: Mapped[str] = mapped_column(EncryptedText("referral_cases.reason"))
    icd10_codes: Mapped[str] = mapped_column(EncryptedText("referral_cases.icd10_codes"))
    urgency: Mapped[str] = mapped_column(String(8))
    clinical_question: Mapped[str] = mapped_column(
        EncryptedText("referral_cases.clinical_question")
    )
    consent_attested: Mapped[bool] = mapped_column(Boolean)
    consent_attested_by: Mapped[str] = mapped_column(String(255))
    consent_attested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    packet_sha256: Mapped[str | None] = mapped_column(String(64))
    packet_sha1: Mapped[str | None] = mapped_column(String(40))
    packet_size: Mapped[int | None] = mapped_column(Integer)
    packet_pages: Mapped[int | None] = mapped_column(Integer)

    attachments: Mapped[list[ReferralAttachment]] = relationship(
        order_by="ReferralAttachment.position", lazy="selectin"
    )

    @property
    def state(self) -> Status:
        return Status(self.status)

    @property
    def kind(self) -> RecipientKind:
        return RecipientKind(self.recipient_kind)

    @property
    def date_of_birth(self) -> date:
        return date.fromisoformat(self.patient_dob)

    @property
    def codes(self) -> list[str]:
        return [c for c in self.icd10_codes.split(",") if c]

    @property
    def document_date(self) -> datetime:
        """The moment the packet is dated: when it was sent, or created for a draft."""
        return as_utc(self.submitted_at or self.created_at)


class ReferralTransition(Base):
    """One status move; the case's history, oldest first by ``id``."""

    __tablename__ = "referral_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral_cases.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(EncryptedText("referral_history.reason"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReferralBusinessStatus(Base):
    """One business-status report (scheduled, no-show, …) with its time."""

    __tablename__ = "referral_business_statuses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral_cases.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(EncryptedText("referral_business_statuses.note"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReferralAttachment(Base):
    """A PDF or image; ``content`` is a FieldCipher token bound to this row's id."""

    __tablename__ = "referral_attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral_cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(EncryptedText("referral_attachments.filename"))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeliveryAttempt(Base):
    """One attempt to deliver the packet over one channel, and how it ended."""

    __tablename__ = "referral_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral_cases.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_address: Mapped[str] = mapped_column(String(255))
    packet_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Disclosure(Base):
    """One disclosure of a patient's PHI (45 CFR 164.528: when, to whom, what, why)."""

    __tablename__ = "referral_disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral_cases.id"), index=True)
    delivery_id: Mapped[str | None] = mapped_column(
        ForeignKey("referral_deliveries.id"), unique=True
    )
    patient_index: Mapped[str] = mapped_column(String(64), index=True)
    disclosed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_address: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(64))
    disclosed_by: Mapped[str] = mapped_column(String(255))
