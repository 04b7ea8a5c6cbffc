"""The credentialing team and its room, kept without hand work.

    curbside verifiers add @v ──► gatekeeper_verifiers row
                                      │ (the gatekeeper's periodic job, below the bot)
                                      ▼
    no room yet? create "Credentialing" (encrypted), record it ──► invite each verifier
    once ──► post every request awaiting attestation that no room has seen yet

The room is the config's ``verifiers_room`` when the operator set one, else
the one the gatekeeper created and recorded here. A request is attested only
in the room its evidence was posted to (``posted_room_id``), so a verifier
can never approve a request they were not shown; ``!pending`` lists what is
waiting there. Pure records: the bot does the homeserver's part.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.gatekeeper.models import CredentialingRoom, VerificationRequest, Verifier
from bots.gatekeeper.verification import AWAITING_ATTESTATION
from curbside.audit import AuditLog

ROOM_NAME = "Credentialing"
ROOM_TOPIC = ("Curbside verification requests: check each clinician's identity, then "
              "!approve or !deny. !pending lists what waits.")
_SINGLETON = 1


def room_of(session: Session, configured: str | None) -> str | None:
    """The credentialing room: the configured one, else the one the gatekeeper made."""
    if configured:
        return configured
    row = session.get(CredentialingRoom, _SINGLETON)
    return row.room_id if row is not None else None


def record_room(session: Session, audit: AuditLog, room_id: str, actor: str,
                now: datetime) -> None:
    session.add(CredentialingRoom(id=_SINGLETON, room_id=room_id, created_at=now))
    audit.record(session, actor=actor, action="credentialing.room_created",
                 record_type="room", record_id=room_id)


def add_verifier(session: Session, audit: AuditLog, user_id: str, *, by: str,
                 now: datetime) -> bool:
    """Put ``user_id`` on the credentialing team; False if they already are."""
    if session.get(Verifier, user_id) is not None:
        return False
    session.add(Verifier(user_id=user_id, added_by=by, added_at=now))
    audit.record(session, actor=by, action="credentialing.verifier_added",
                 record_type="verifier", record_id=user_id)
    return True


def verifiers(session: Session) -> list[Verifier]:
    return list(session.scalars(select(Verifier).order_by(Verifier.user_id)))


def needs_room(session: Session) -> bool:
    """True when someone is on the team (so a room is worth creating)."""
    return session.scalars(select(Verifier.user_id).limit(1)).first() is not None


def to_invite(session: Session, room_id: str) -> list[Verifier]:
    """Verifiers not yet invited to ``room_id``."""
    return [v for v in verifiers(session) if v.invited_room_id != room_id]


def unposted(session: Session) -> list[VerificationRequest]:
    """Requests awaiting attestation that no credentialing room has been shown yet."""
    return list(session.scalars(
        select(VerificationRequest)
        .where(VerificationRequest.state == AWAITING_ATTESTATION,
               VerificationRequest.posted_room_id.is_(None))
        .order_by(VerificationRequest.id)
    ))


def pending_in(session: Session, room_id: str) -> list[VerificationRequest]:
    """Requests awaiting attestation whose evidence was posted to ``room_id``."""
    return list(session.scalars(
        select(VerificationRequest)
        .where(VerificationRequest.state == AWAITING_ATTESTATION,
               VerificationRequest.posted_room_id == room_id)
        .order_by(VerificationRequest.id)
    ))
