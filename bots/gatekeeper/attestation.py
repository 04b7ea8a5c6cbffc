"""A verifier's attestation, and the credential it produces.

    request awaiting_attestation ──posted with its evidence──► verifiers' room
    verifier: !approve <id> <what was checked> ──► VerifiedCredential (+ expiry), audit
    verifier: !deny <id> <reason>              ──► request denied, audit
    verifier: !revoke <user> <reason>          ──► credential revoked, audit (the sweep
                                                   removes them from verified rooms)

What the verifier says they checked ("government ID and licence checked by
video, IAL2") is kept on the credential as its evidence and in the audit log,
so anyone can later see on what grounds a Matrix ID was bound to an NPI.
Roster imports (:mod:`bots.gatekeeper.roster`) issue credentials through the
same :func:`issue_credential`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bots.gatekeeper.fax_code import EVIDENCE
from bots.gatekeeper.models import VerificationRequest
from bots.gatekeeper.verification import APPROVED, AWAITING_ATTESTATION, DENIED
from curbside.audit import AuditLog
from curbside.credentials import VerifiedCredential, active_credential

RECORD_TYPE = "verified_credential"


@dataclass(frozen=True, slots=True)
class CredentialFacts:
    """What a credential binds a Matrix ID to (all from the registry)."""

    user_id: str
    npi: str
    legal_name: str
    credential_text: str
    specialty: str
    taxonomy_code: str
    licence_state: str
    licence_number: str


class AttestationError(Exception):
    """A verifier's command that cannot be applied; the message says why."""


def facts_of(request: VerificationRequest) -> CredentialFacts:
    return CredentialFacts(
        user_id=request.user_id,
        npi=request.npi or "",
        legal_name=request.legal_name or "",
        credential_text=request.credential_text or "",
        specialty=request.specialty or "",
        taxonomy_code=request.taxonomy_code or "",
        licence_state=request.licence_state or "",
        licence_number=request.licence_number or "",
    )


def issue_credential(
    session: Session,
    audit: AuditLog,
    facts: CredentialFacts,
    *,
    verified_by: str,
    checked: str,
    now: datetime,
    days: int,
    action: str,
) -> VerifiedCredential:
    """Bind the Matrix ID to the NPI until ``now + days``; replaces an earlier credential."""
    credential = session.get(VerifiedCredential, facts.user_id)
    if credential is None:
        credential = VerifiedCredential(user_id=facts.user_id, directory_opt_out=False)
        session.add(credential)
    credential.npi = facts.npi
    credential.legal_name = facts.legal_name
    credential.credential_text = facts.credential_text
    credential.specialty = facts.specialty
    credential.taxonomy_code = facts.taxonomy_code
    credential.licence_state = facts.licence_state
    credential.licence_number = facts.licence_number
    credential.verified_by = verified_by
    credential.evidence = checked
    credential.verified_at = now
    credential.expires_at = now + timedelta(days=days)
    credential.revoked_at = None
    credential.revoked_reason = None
    session.flush()
    audit.record(
        session,
        actor=verified_by,
        action=action,
        record_type=RECORD_TYPE,
        record_id=facts.user_id,
        reason=checked,
        details={
            "npi": facts.npi,
            "licence_state": facts.licence_state,
            "taxonomy_code": facts.taxonomy_code,
            "expires_at": credential.expires_at.isoformat(),
        },
    )
    return credential


def pending(session: Session, request_id: int) -> VerificationRequest:
    """The request a verifier names, if it awaits attestation."""
    request = session.get(VerificationRequest, request_id)
    if request is None:
        raise AttestationError(f"There is no verification request #{request_id}.")
    if request.state != AWAITING_ATTESTATION:
        raise AttestationError(
            f"Request #{request_id} is {request.state.replace('_', ' ')}, not awaiting "
            "attestation; nothing was changed."
        )
    return request


def approve(
    session: Session,
    audit: AuditLog,
    request: VerificationRequest,
    *,
    verifier: str,
    checked: str,
    now: datetime,
    days: int,
) -> VerifiedCredential:
    if verifier == request.user_id:
        raise AttestationError("You cannot attest your own verification request.")
    request.state = APPROVED
    request.decided_by = verifier
    request.decision_note = checked
    request.updated_at = now
    return issue_credential(
        session, audit, facts_of(request), verified_by=verifier, checked=checked, now=now,
        days=days, action="credential.approve",
    )


def deny(
    session: Session,
    audit: AuditLog,
    request: VerificationRequest,
    *,
    verifier: str,
    reason: str,
    now: datetime,
) -> None:
    request.state = DENIED
    request.decided_by = verifier
    request.decision_note = reason
    request.updated_at = now
    session.flush()
    audit.record(
        session, actor=verifier, action="verification.deny", record_type="verification_request",
        record_id=str(request.id), reason=reason, details={"user_id": request.user_id},
    )


def revoke(
    session: Session, audit: AuditLog, user_id: str, *, by: str, reason: str, now: datetime
) -> bool:
    """Revoke the user's credential; False when they hold no active one."""
    if active_credential(session, user_id, now) is None:
        return False
    credential = session.get(VerifiedCredential, user_id)
    assert credential is not None
    credential.revoked_at = now
    credential.revoked_reason = reason
    session.flush()
    audit.record(
        session, actor=by, action="credential.revoke", record_type="verified_credential",
        record_id=user_id, reason=reason, details={"npi": credential.npi},
    )
    return True


def evidence_for_verifiers(request: VerificationRequest) -> tuple[str, str]:
    """The attestation request as posted in the verifiers' room (plain, HTML)."""
    head = f"Verification request #{request.id} from {request.user_id}"
    facts = [
        f"NPI {request.npi}: {request.registry_name} — active individual provider in NPPES",
        f"Name given: {request.name_given} (matches the registry)",
        f"Licence: {request.licence_state} {request.licence_number} — "
        f"{request.specialty or 'taxonomy ' + (request.taxonomy_code or '?')} "
        "(a clinical taxonomy; matches the registry)",
        "Please confirm their identity (e.g. government ID and licence by video), then:",
        f"!approve {request.id} <what you checked>   or   !deny {request.id} <reason>",
    ]
    if request.faxed_code_confirmed_at is not None:
        facts.append(f"Practice fax: {EVIDENCE}")
    ask = "Please confirm their identity (e.g. government ID and licence by video), then:"
    lines = [head, *facts, ask,
             f"!approve {request.id} <what you checked>   or   !deny {request.id} <reason>"]
    plain = "\n".join(lines)
    items = "".join(f"<li>{html.escape(line)}</li>" for line in facts)
    markup = (
        f"<p><b>{html.escape(head)}</b></p><ul>{items}</ul>"
        f"<p>{html.escape(ask)}<br><code>!approve {request.id} &lt;what you checked&gt;"
        f"</code> or <code>!deny {request.id} &lt;reason&gt;</code></p>"
    )
    return plain, markup


def _shown_as(credential: VerifiedCredential) -> str:
    """'Dana Whitfield, MD · Cardiology', leaving out what the record lacks."""
    name = ", ".join(p for p in (credential.legal_name, credential.credential_text) if p)
    return f"{name} · {credential.specialty}" if credential.specialty else name


def approval_text(credential: VerifiedCredential) -> str:
    """What the clinician is told on approval: who they are now and what they can do."""
    return (
        f"You are verified: {_shown_as(credential)} "
        f"(NPI {credential.npi}, {credential.licence_state} licence), "
        f"until {credential.expires_at.date().isoformat()}. You can now:\n"
        "• !room create <name> — make a verified room (only verified clinicians can be in it)\n"
        "• !invite @colleague <room> — invite a verified colleague; !join <room> — join one\n"
        "• !find <specialty> <state> — find verified colleagues; !directory hide to opt out\n"
        "In verified rooms you are shown by your verified name and credential. "
        "I will remind you before the verification expires."
    )
