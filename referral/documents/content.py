"""What the documents show, detached from the database.

A :class:`ReferralDocument` is built once from a case (decrypting what it
needs) and then handed to the pure renderers. Keeping the renderers off the
ORM makes them deterministic, fast to benchmark and testable without a
database; the one place PHI is decrypted for rendering is
:func:`referral.documents.packet.document_from_case`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

URGENCY_LABELS = {"routine": "Routine", "urgent": "URGENT", "stat": "STAT"}


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Party:
    """A sender or recipient as a cover sheet names them."""

    name: str
    organisation: str
    phone: str
    fax: str
    address: str  # Matrix id, room id or fax number: where the packet goes


@dataclass(frozen=True, slots=True)
class ReferralDocument:
    referral_id: str
    document_date: datetime
    urgency: str
    patient_name: str
    date_of_birth: date
    sex: str
    mrn: str
    patient_phone: str
    payer: str
    member_id: str
    referring_org_name: str
    referrer_name: str
    referrer_credential: str
    referrer_npi: str
    referrer_specialty: str
    referrer_user_id: str
    sender: Party
    recipient: Party
    recipient_is_fax: bool
    reason: str
    icd10_codes: tuple[str, ...]
    clinical_question: str
    consent_attested_by: str
    consent_attested_at: datetime
    attachments: tuple[AttachmentFile, ...]

    @property
    def qr_payload(self) -> str:
        """What the QR code encodes: the referral id only, never PHI."""
        return f"CURBSIDE-REFERRAL:{self.referral_id}"


def format_date(moment: date) -> str:
    """'14 Mar 1957' — unambiguous in every locale, legible on a fax."""
    return moment.strftime("%d %b %Y")
