"""Shared pieces of the referral database tests: who is verified, a valid request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from curbside.credentials import VerifiedCredential
from referral.cases import ReferralEnv
from referral.validation import ReferralRequest

REFERRER = "@dana:curbside.test"
CARDIOLOGIST = "@cardio:curbside.test"
PRACTICE_ROOM = "!beacon:curbside.test"
NOW = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)


@dataclass
class ReferralDb:
    engine: Engine
    env: ReferralEnv
    master_key: bytes


def credential(user_id: str, name: str, npi: str, specialty: str) -> VerifiedCredential:
    return VerifiedCredential(
        user_id=user_id,
        npi=npi,
        legal_name=name,
        credential_text="MD",
        specialty=specialty,
        taxonomy_code="207Q00000X",
        licence_state="MA",
        licence_number="123",
        verified_by="@gk:x",
        evidence="",
        verified_at=NOW - timedelta(days=30),
        expires_at=NOW + timedelta(days=300),
    )


def fax_request(**changes: object) -> ReferralRequest:
    values: dict[str, object] = dict(
        patient_name="Maria Q. Testpatient",
        date_of_birth="1957-03-14",
        sex="female",
        mrn="A-123456",
        patient_phone="+16175550134",
        payer="BCBS MA",
        member_id="XJH123456789",
        referring_org_name="Harbor Family Medicine",
        referring_org_phone="+16175550100",
        referring_org_fax="+16175550101",
        recipient="+16175550199",
        recipient_name="Beacon Cardiology Associates",
        reason="New atrial fibrillation",
        icd10_codes="I48.91, R00.2",
        urgency="urgent",
        clinical_question="Is anticoagulation indicated?",
        consent_attested=True,
    )
    values.update(changes)
    return ReferralRequest(**values)  # type: ignore[arg-type]
