"""From a stored case to its packet, and the hash check before anything is sent.

    case (encrypted row) ──document_from_case──> ReferralDocument ──build_packet──> Packet
                                                                         │
    at send time (draft → requested):  store sha256, sha1, size, pages ──┘
    before every delivery:             re-render, compare sha256, refuse on mismatch

Only the hash is stored, not the bytes: rendering is deterministic, so the
packet can be rebuilt from the case whenever it is needed, and a mismatch
means the case or the renderer changed after the referrer sent it.
"""

from __future__ import annotations

from curbside.phi import installed_cipher
from referral.documents.content import AttachmentFile, Party, ReferralDocument
from referral.documents.packet import Packet, build_packet
from referral.errors import PacketMismatch
from referral.models import ReferralAttachment, ReferralCase, as_utc
from referral.validation import RecipientKind


def attachment_aad(attachment_id: str) -> bytes:
    """Binds an attachment's ciphertext to its row, like EncryptedText binds to a column."""
    return f"referral_attachments.content:{attachment_id}".encode()


def attachment_bytes(attachment: ReferralAttachment) -> bytes:
    return installed_cipher().decrypt_bytes(attachment.content, attachment_aad(attachment.id))


def document_from_case(case: ReferralCase) -> ReferralDocument:
    """Decrypt what the documents show; the one place rendering touches PHI storage."""
    referrer = f"{case.referrer_name}, {case.referrer_credential}".rstrip(", ")
    return ReferralDocument(
        referral_id=case.id,
        document_date=case.document_date,
        urgency=case.urgency,
        patient_name=case.patient_name,
        date_of_birth=case.date_of_birth,
        sex=case.patient_sex,
        mrn=case.patient_mrn,
        patient_phone=case.patient_phone,
        payer=case.payer,
        member_id=case.member_id,
        referring_org_name=case.referring_org_name,
        referrer_name=case.referrer_name,
        referrer_credential=case.referrer_credential,
        referrer_npi=case.referrer_npi,
        referrer_specialty=case.referrer_specialty,
        referrer_user_id=case.referrer_user_id,
        sender=Party(
            name=referrer,
            organisation=case.referring_org_name,
            phone=case.referring_org_phone,
            fax=case.referring_org_fax,
            address=case.referrer_user_id,
        ),
        recipient=Party(
            name=case.recipient_name,
            organisation=case.recipient_name,
            phone=case.recipient_phone,
            fax=case.recipient_address if case.kind is RecipientKind.FAX else "",
            address=case.recipient_address,
        ),
        recipient_is_fax=case.kind is RecipientKind.FAX,
        reason=case.reason,
        icd10_codes=tuple(case.codes),
        clinical_question=case.clinical_question,
        consent_attested_by=case.consent_attested_by,
        consent_attested_at=as_utc(case.consent_attested_at),
        attachments=tuple(
            AttachmentFile(a.filename, a.content_type, attachment_bytes(a))
            for a in case.attachments
        ),
    )


def render_packet(case: ReferralCase) -> Packet:
    """The packet as the case stands now (a preview while it is a draft)."""
    return build_packet(document_from_case(case))


def freeze_packet(case: ReferralCase) -> Packet:
    """Render and store the packet's hashes, size and page count on the case."""
    packet = render_packet(case)
    case.packet_sha256 = packet.sha256
    case.packet_sha1 = packet.sha1
    case.packet_size = packet.size
    case.packet_pages = packet.pages
    return packet


def load_packet(case: ReferralCase) -> Packet:
    """The sent packet, re-rendered and checked against the stored SHA-256."""
    if case.packet_sha256 is None:
        raise PacketMismatch(f"referral {case.id} has not been sent, so it has no packet yet")
    packet = render_packet(case)
    if packet.sha256 != case.packet_sha256 and case.kind is RecipientKind.FAX:
        sealed_before_reply_sheets = build_packet(document_from_case(case), reply_sheet=False)
        if sealed_before_reply_sheets.sha256 == case.packet_sha256:
            return sealed_before_reply_sheets
    if packet.sha256 != case.packet_sha256:
        raise PacketMismatch(
            f"the packet of referral {case.id} no longer matches the one that was sent "
            f"(stored {case.packet_sha256[:12]}…, now {packet.sha256[:12]}…); nothing was sent"
        )
    return packet


def verify_packet(case: ReferralCase) -> bytes:
    """The packet's bytes, only if their SHA-256 equals the stored one."""
    return load_packet(case).data
