"""Verified-credential records: who is a proven clinician, which rooms are verified.

    gatekeeper bot ──writes──> verified_credentials, verified_rooms, invite_blocks,
                               verified_room_owners, verified_room_consents,
                               verified_room_upgrades
    every bot, the bridge, the Synapse module ──read──> (this module's queries)

A verified room is entered by consent: its *owners* (the creator and whoever
the owners name) decide who is invited, and the gatekeeper records each
invite it was allowed to send (a *consent*) before sending it; the module
refuses any invite into a verified room without one. An *upgrade* is a
gatekeeper-only act the gatekeeper announces here before asking the
homeserver, so that nobody else holding its token can replace a verified room.

A credential binds a Matrix ID to an NPI after the registry check, the licence
check and a verifier's attestation. It is *active* while it is neither
revoked nor expired; every reader asks :func:`active_credential` so that
revocation and expiry mean the same thing everywhere. The records hold
professional identity (name, credential, specialty, licence state) — public
registry data, not patient PHI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from curbside.database import Base


class VerifiedCredential(Base):
    __tablename__ = "verified_credentials"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    npi: Mapped[str] = mapped_column(String(10), index=True)
    legal_name: Mapped[str] = mapped_column(String(255))
    credential_text: Mapped[str] = mapped_column(String(64))
    specialty: Mapped[str] = mapped_column(String(255))
    taxonomy_code: Mapped[str] = mapped_column(String(10))
    licence_state: Mapped[str] = mapped_column(String(2), index=True)
    licence_number: Mapped[str] = mapped_column(String(64))
    verified_by: Mapped[str] = mapped_column(String(255))
    evidence: Mapped[str] = mapped_column(Text, default="")
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    directory_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)


class VerifiedRoom(Base):
    __tablename__ = "verified_rooms"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


#: Who may ask the gatekeeper to invite into a verified room.
INVITES_BY_MEMBERS = "members"
INVITES_BY_OWNERS = "owners"


class VerifiedRoomSettings(Base):
    """How a verified room is run: who may have the gatekeeper invite (members or owners)."""

    __tablename__ = "verified_room_settings"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    invites_by: Mapped[str] = mapped_column(String(16), default=INVITES_BY_MEMBERS)


class RoomOwner(Base):
    """An owner of a verified room: decides join requests, names other owners."""

    __tablename__ = "verified_room_owners"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    named_by: Mapped[str] = mapped_column(String(255))
    named_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RoomConsent(Base):
    """The room agreed to ``user_id`` being invited (by a member's !invite or an owner's yes)."""

    __tablename__ = "verified_room_consents"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    consented_by: Mapped[str] = mapped_column(String(255))
    consented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RoomUpgrade(Base):
    """The gatekeeper is about to upgrade ``room_id`` (``successor`` once it exists)."""

    __tablename__ = "verified_room_upgrades"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    successor_room_id: Mapped[str | None] = mapped_column(String(255))


class InviteBlock(Base):
    """A clinician refuses invites from ``blocked_user_id`` (or a whole server: ``@*:server``)."""

    __tablename__ = "invite_blocks"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    blocked_user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class Credential:
    """What readers may know of an active credential."""

    user_id: str
    npi: str
    legal_name: str
    credential_text: str
    specialty: str
    licence_state: str
    expires_at: datetime

    @property
    def display_name(self) -> str:
        """The name shown in verified rooms, e.g. 'Dana Whitfield, MD · Cardiology'."""
        name = (
            f"{self.legal_name}, {self.credential_text}"
            if self.credential_text
            else self.legal_name
        )
        return f"{name} · {self.specialty}" if self.specialty else name


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def active_credential(
    session: Session, user_id: str, at: datetime | None = None
) -> Credential | None:
    """The user's credential if it is neither revoked nor expired at ``at`` (default: now)."""
    row = session.get(VerifiedCredential, user_id)
    at = at or datetime.now(UTC)
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= at:
        return None
    return Credential(
        user_id=row.user_id,
        npi=row.npi,
        legal_name=row.legal_name,
        credential_text=row.credential_text,
        specialty=row.specialty,
        licence_state=row.licence_state,
        expires_at=_aware(row.expires_at),
    )


def verified_name(session: Session, user_id: str) -> str:
    """How a notice names someone: their verified name with the Matrix id, e.g.
    'Dana Whitfield, MD (@dana:example.org)'; the bare id when never verified.

    Read whether or not the credential is still active, so a notice about a
    revocation or an expiry still names the person people knew.
    """
    row = session.get(VerifiedCredential, user_id)
    if row is None or not row.legal_name:
        return user_id
    name = f"{row.legal_name}, {row.credential_text}" if row.credential_text else row.legal_name
    return f"{name} ({user_id})"


def is_verified_room(session: Session, room_id: str) -> bool:
    return session.get(VerifiedRoom, room_id) is not None


def blocks_invites_from(session: Session, user_id: str, inviter: str) -> bool:
    """Has ``user_id`` blocked ``inviter`` (by user id or by their server)?"""
    server = inviter.split(":", 1)[-1]
    candidates = [inviter, f"@*:{server}"]
    found = session.scalars(
        select(InviteBlock.blocked_user_id).where(
            InviteBlock.user_id == user_id, InviteBlock.blocked_user_id.in_(candidates)
        )
    ).first()
    return found is not None


def is_room_owner(session: Session, room_id: str, user_id: str) -> bool:
    return session.get(RoomOwner, (room_id, user_id)) is not None


def room_owners(session: Session, room_id: str) -> list[str]:
    return list(session.scalars(
        select(RoomOwner.user_id).where(RoomOwner.room_id == room_id).order_by(RoomOwner.user_id)
    ))


def invite_consented(session: Session, room_id: str, user_id: str) -> bool:
    """Did the room's members or owners agree to ``user_id`` being invited?"""
    return session.get(RoomConsent, (room_id, user_id)) is not None


#: How long an announced upgrade stays open for the homeserver to carry out.
UPGRADE_WINDOW_SECONDS = 300


def upgrade_announced(session: Session, room_id: str, at: datetime | None = None) -> bool:
    """Has the gatekeeper announced an upgrade of ``room_id`` that has not happened yet?"""
    row = session.get(RoomUpgrade, room_id)
    at = at or datetime.now(UTC)
    return (
        row is not None
        and row.successor_room_id is None
        and (at - _aware(row.requested_at)).total_seconds() <= UPGRADE_WINDOW_SECONDS
    )
