"""Service functions for referral cases: create, attach, move, report.

Each function works inside the caller's session and transaction (a bot's
exactly-once handler transaction, or ``session_scope``), writes its history
and audit rows there, and never commits; so an effect and its audit record
commit or vanish together. Functions raise the errors in
:mod:`referral.errors`, whose messages a bot can send back unchanged.

    create_referral ──> draft ──add_attachment*──> transition(requested)
                                                   └─ freezes the packet hash
    transition(...)            every other move in referral.states.TRANSITIONS
    record_business_status     BSeR-style status beside the Task status
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from curbside.audit import AuditLog
from curbside.credentials import active_credential, is_verified_room
from curbside.phi import installed_cipher
from referral.errors import NotVerified, ReferralNotFound
from referral.models import (
    ReferralAttachment,
    ReferralBusinessStatus,
    ReferralCase,
    ReferralTransition,
)
from referral.packets import attachment_aad, freeze_packet
from referral.patient_index import derive_index_key, patient_index
from referral.states import Side, Status, TransitionError, check_business_status, check_transition
from referral.validation import (
    MAX_ATTACHMENTS,
    FieldError,
    RecipientKind,
    ReferralRequest,
    parse_attachment,
    validate_referral,
)

RECORD_TYPE = "referral"
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReferralEnv:
    """What the service functions need besides a session: audit log, index key, clock, sandbox."""

    audit: AuditLog
    index_key: bytes
    clock: Callable[[], datetime] = field(default=_now)
    #: Checks an attachment in a sandbox (the fax gateway's; this package may
    #: not import it, so the bot that accepts files passes it in); raises
    #: ValueError saying why the file is refused. None: attachments are refused.
    documents: Callable[[bytes], object] | None = None

    @classmethod
    def from_secrets(cls, *, audit_key: bytes, master_key: bytes) -> ReferralEnv:
        """Build from the secret config (``secrets.audit_key``, ``secrets.master_key``)."""
        return cls(audit=AuditLog(audit_key), index_key=derive_index_key(master_key))


def new_referral_id() -> str:
    """'RF-7K3M9Q2X': short enough to read over the phone, 40 bits of randomness."""
    return "RF-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def get_referral(session: Session, referral_id: str, *, for_update: bool = False) -> ReferralCase:
    query = select(ReferralCase).where(ReferralCase.id == referral_id.strip().upper())
    if for_update:
        query = query.with_for_update()
    case = session.scalars(query).one_or_none()
    if case is None:
        raise ReferralNotFound(
            f"there is no referral {referral_id}; check the id (like RF-7K3M9Q2X)"
        )
    return case


def side_of(case: ReferralCase, user_id: str) -> Side | None:
    """The side a Matrix user acts for on this case, if any.

    For a practice-room recipient the caller (the desk bot) knows room
    membership and passes ``Side.RECIPIENT`` itself.
    """
    if user_id == case.referrer_user_id:
        return Side.REFERRER
    if case.kind is RecipientKind.MATRIX_USER and user_id == case.recipient_address:
        return Side.RECIPIENT
    return None


def _history(
    session: Session,
    case: ReferralCase,
    source: Status | None,
    target: Status,
    side: Side,
    actor: str,
    reason: str,
    at: datetime,
) -> None:
    session.add(
        ReferralTransition(
            referral_id=case.id,
            from_status=source.value if source else None,
            to_status=target.value,
            side=side.value,
            actor=actor,
            reason=reason or None,
            at=at,
        )
    )


def create_referral(
    session: Session, env: ReferralEnv, request: ReferralRequest, *, referrer: str
) -> ReferralCase:
    """Validate and store a draft referral made by the verified clinician ``referrer``."""
    now = env.clock()
    credential = active_credential(session, referrer, now)
    if credential is None:
        raise NotVerified(
            f"{referrer} is not a verified clinician (no active credential), so cannot refer; "
            "ask the gatekeeper to verify them first"
        )
    valid = validate_referral(request, now.date())
    recipient_name = valid.recipient_name
    if valid.recipient_kind is RecipientKind.MATRIX_USER:
        recipient = active_credential(session, valid.recipient_address, now)
        if recipient is None:
            raise NotVerified(
                f"{valid.recipient_address} is not a verified clinician; refer to a verified "
                "member, a verified practice room, or a fax number"
            )
        recipient_name = recipient_name or recipient.display_name
    elif valid.recipient_kind is RecipientKind.MATRIX_ROOM:
        if not is_verified_room(session, valid.recipient_address):
            raise NotVerified(
                f"{valid.recipient_address} is not a verified practice room; refer to a "
                "verified room, a verified member, or a fax number"
            )
        recipient_name = recipient_name or "Practice room"
    case = ReferralCase(
        id=new_referral_id(),
        status=Status.DRAFT.value,
        patient_name=valid.patient_name,
        patient_dob=valid.date_of_birth.isoformat(),
        patient_sex=valid.sex,
        patient_mrn=valid.mrn,
        patient_phone=valid.patient_phone,
        payer=valid.payer,
        member_id=valid.member_id,
        patient_index=patient_index(env.index_key, valid.patient_name, valid.date_of_birth),
        referring_org_name=valid.referring_org_name,
        referring_org_phone=valid.referring_org_phone,
        referring_org_fax=valid.referring_org_fax,
        referrer_user_id=referrer,
        referrer_name=credential.legal_name,
        referrer_credential=credential.credential_text,
        referrer_npi=credential.npi,
        referrer_specialty=credential.specialty,
        recipient_kind=valid.recipient_kind.value,
        recipient_address=valid.recipient_address,
        recipient_name=recipient_name,
        recipient_phone=valid.recipient_phone,
        reason=valid.reason,
        icd10_codes=",".join(valid.icd10_codes),
        urgency=valid.urgency,
        clinical_question=valid.clinical_question,
        consent_attested=True,
        consent_attested_by=f"{credential.legal_name}, {credential.credential_text}".rstrip(", "),
        consent_attested_at=now,
        created_by=referrer,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    _history(session, case, None, Status.DRAFT, Side.REFERRER, referrer, "", now)
    env.audit.record(
        session,
        actor=referrer,
        action="referral.create",
        record_type=RECORD_TYPE,
        record_id=case.id,
        details={"recipient_kind": case.recipient_kind, "urgency": case.urgency},
    )
    return case


def _check_readable(env: ReferralEnv, filename: str, data: bytes) -> None:
    """Refuse files that would break the packet later (damaged, encrypted, over the limits).

    The file is parsed in the sandbox ``env.documents``, never here: a page-tree
    bomb or a decompression bomb costs a child process its limits, not us.
    """
    if env.documents is None:
        raise FieldError("attachment", "this service takes no attachments (it has no document "
                                       "sandbox); send the file to the referral desk")
    try:
        env.documents(data)
    except ValueError as refused:
        raise FieldError("attachment", f"{filename} was refused: {refused}") from None


def add_attachment(
    session: Session, env: ReferralEnv, referral_id: str, *, actor: str, filename: str, data: bytes
) -> ReferralAttachment:
    """Attach a PDF or image to a draft; the bytes are stored encrypted."""
    case = get_referral(session, referral_id, for_update=True)
    if case.state is not Status.DRAFT:
        raise TransitionError(
            f"attachments can be added only while the referral is a draft; {case.id} is "
            f"{case.status} (its packet was sealed when it was sent)"
        )
    attachment = parse_attachment(filename, data)
    position = (
        session.scalar(
            select(func.count())
            .select_from(ReferralAttachment)
            .where(ReferralAttachment.referral_id == case.id)
        )
        or 0
    )
    if position >= MAX_ATTACHMENTS:
        raise FieldError("attachment", f"a referral carries at most {MAX_ATTACHMENTS} "
                                       "attachments; merge scans into one PDF")
    _check_readable(env, attachment.filename, attachment.data)
    attachment_id = secrets.token_hex(12)
    row = ReferralAttachment(
        id=attachment_id,
        referral_id=case.id,
        position=position,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=len(attachment.data),
        sha256=hashlib.sha256(attachment.data).hexdigest(),
        content=installed_cipher().encrypt_bytes(attachment.data, attachment_aad(attachment_id)),
        added_by=actor,
        added_at=env.clock(),
    )
    session.add(row)
    session.flush()
    session.refresh(case, ["attachments"])
    env.audit.record(
        session,
        actor=actor,
        action="referral.attachment.add",
        record_type=RECORD_TYPE,
        record_id=case.id,
        details={"attachment": attachment_id, "content_type": row.content_type, "size": row.size},
    )
    return row


def transition(
    session: Session,
    env: ReferralEnv,
    referral_id: str,
    *,
    to: Status | str,
    side: Side,
    actor: str,
    reason: str = "",
) -> ReferralCase:
    """Move a referral along one row of the table; sending (→ requested) seals the packet."""
    target = Status(to)
    case = get_referral(session, referral_id, for_update=True)
    source = case.state
    check_transition(source, target, side, reason)
    now = env.clock()
    details: dict[str, object] = {"from": source.value, "to": target.value, "side": side.value}
    if source is Status.DRAFT and target is Status.REQUESTED:
        case.submitted_at = now
        packet = freeze_packet(case)
        details |= {"packet_sha256": packet.sha256, "pages": packet.pages}
    case.status = target.value
    case.updated_at = now
    _history(session, case, source, target, side, actor, reason.strip(), now)
    env.audit.record(
        session,
        actor=actor,
        action="referral.transition",
        record_type=RECORD_TYPE,
        record_id=case.id,
        reason="reason given" if reason.strip() else "",
        details=details,
    )
    session.flush()
    return case


def record_business_status(
    session: Session,
    env: ReferralEnv,
    referral_id: str,
    *,
    code: str,
    side: Side,
    actor: str,
    note: str = "",
) -> ReferralBusinessStatus:
    """Record a BSeR-style business status (scheduled, no-show, …) with its time."""
    case = get_referral(session, referral_id, for_update=True)
    entry = check_business_status(case.state, code.strip().lower(), side)
    now = env.clock()
    row = ReferralBusinessStatus(
        referral_id=case.id,
        code=entry.code,
        side=side.value,
        actor=actor,
        note=note.strip() or None,
        at=now,
    )
    session.add(row)
    case.business_status = entry.code
    case.business_status_at = now
    case.updated_at = now
    env.audit.record(
        session,
        actor=actor,
        action="referral.business_status",
        record_type=RECORD_TYPE,
        record_id=case.id,
        details={"code": entry.code, "side": side.value},
    )
    session.flush()
    return row


def history(session: Session, referral_id: str) -> list[ReferralTransition]:
    """Status moves, oldest first."""
    return list(
        session.scalars(
            select(ReferralTransition)
            .where(ReferralTransition.referral_id == referral_id)
            .order_by(ReferralTransition.id)
        )
    )


def business_statuses(session: Session, referral_id: str) -> list[ReferralBusinessStatus]:
    """Business-status reports, oldest first."""
    return list(
        session.scalars(
            select(ReferralBusinessStatus)
            .where(ReferralBusinessStatus.referral_id == referral_id)
            .order_by(ReferralBusinessStatus.id)
        )
    )
