"""Write the verification records the gatekeeper bot would write (tests stand in for it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from curbside.credentials import (
    InviteBlock,
    RoomConsent,
    RoomUpgrade,
    VerifiedCredential,
    VerifiedRoom,
)
from curbside.database import session_scope

GATEKEEPER_LOCALPART = "gatekeeper"


def grant_credential(engine: Engine, user_id: str, *, valid_for: timedelta = timedelta(days=365),
                     legal_name: str = "Dana Whitfield", specialty: str = "Cardiology") -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(VerifiedCredential(
            user_id=user_id, npi="1234567893", legal_name=legal_name,
            credential_text="MD", specialty=specialty, taxonomy_code="207RC0000X",
            licence_state="MA", licence_number="123456", verified_by="@verifier:curbside.test",
            evidence="", verified_at=now, expires_at=now + valid_for, revoked_at=None,
            revoked_reason=None, directory_opt_out=False,
        ))


def revoke_credential(engine: Engine, user_id: str) -> None:
    with session_scope(engine) as session:
        row = session.get(VerifiedCredential, user_id)
        assert row is not None
        row.revoked_at = datetime.now(UTC)
        row.revoked_reason = "licence surrendered"


def mark_room_verified(engine: Engine, room_id: str, created_by: str) -> None:
    with session_scope(engine) as session:
        session.add(VerifiedRoom(room_id=room_id, created_by=created_by,
                                 created_at=datetime.now(UTC)))


def block_invites(engine: Engine, user_id: str, blocked: str) -> None:
    with session_scope(engine) as session:
        session.add(InviteBlock(user_id=user_id, blocked_user_id=blocked,
                                created_at=datetime.now(UTC)))


def consent_to_invite(engine: Engine, room_id: str, user_id: str,
                      by: str = "@dana:curbside.test") -> None:
    """The room agreed to ``user_id`` (as a member's !invite or an owner's approval records)."""
    with session_scope(engine) as session:
        session.merge(RoomConsent(room_id=room_id, user_id=user_id, consented_by=by,
                                  consented_at=datetime.now(UTC)))


def announce_upgrade(engine: Engine, room_id: str, by: str = "@dana:curbside.test") -> None:
    """The gatekeeper's note, written before it asks the homeserver to upgrade ``room_id``."""
    with session_scope(engine) as session:
        session.merge(RoomUpgrade(room_id=room_id, requested_by=by,
                                  requested_at=datetime.now(UTC), successor_room_id=None))
