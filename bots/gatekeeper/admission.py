"""Whom the gatekeeper lets into verified rooms, and the records it keeps of them.

    !room create ─► record_room (after the bot created it on the homeserver)
    !invite      ─► invite_refusal: verified room, verified inviter and invitee,
                    and the invitee has not blocked the inviter (or their server)
    !join        ─► join_refusal: verified room, verified asker
    !block / !unblock ─► add_block / remove_block

The store side of :mod:`bots.gatekeeper.rooms`, which does the homeserver's;
nothing here touches Matrix.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from curbside.audit import AuditLog
from curbside.credentials import (
    InviteBlock,
    VerifiedRoom,
    active_credential,
    blocks_invites_from,
    is_verified_room,
)


def record_room(
    session: Session, audit: AuditLog, room_id: str, created_by: str, name: str, now: datetime
) -> None:
    session.add(VerifiedRoom(room_id=room_id, created_by=created_by, created_at=now))
    session.flush()
    audit.record(
        session, actor=created_by, action="verified_room.create", record_type="verified_room",
        record_id=room_id, details={"name": name},
    )


def add_block(
    session: Session, audit: AuditLog, user_id: str, blocked: str, now: datetime
) -> None:
    """``user_id`` refuses invites on behalf of ``blocked`` (a user or ``@*:server``)."""
    if session.get(InviteBlock, (user_id, blocked)) is not None:
        return
    session.add(InviteBlock(user_id=user_id, blocked_user_id=blocked, created_at=now))
    session.flush()
    audit.record(session, actor=user_id, action="invite_block.add",
                 record_type="invite_block", record_id=user_id, details={"blocked": blocked})


def remove_block(session: Session, audit: AuditLog, user_id: str, blocked: str) -> bool:
    """Undo :func:`add_block`; False when there was no such block."""
    row = session.get(InviteBlock, (user_id, blocked))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    audit.record(session, actor=user_id, action="invite_block.remove",
                 record_type="invite_block", record_id=user_id, details={"blocked": blocked})
    return True


def invite_refusal(
    session: Session, room_id: str, inviter: str, invitee: str
) -> str | None:
    """Why the gatekeeper will not invite ``invitee`` on ``inviter``'s behalf (None: it will)."""
    if not is_verified_room(session, room_id):
        return f"{room_id} is not a verified room I manage."
    if active_credential(session, inviter) is None:
        return "Only verified clinicians can invite to verified rooms; send !verify first."
    if active_credential(session, invitee) is None:
        return (
            f"{invitee} is not a verified clinician, so I cannot invite them to a verified "
            "room. Ask them to send me !verify in a direct message; once verified, invite "
            "them again."
        )
    if blocks_invites_from(session, invitee, inviter):
        return f"{invitee} does not accept invites from you."
    return None


def join_refusal(session: Session, room_id: str, user_id: str) -> str | None:
    """Why the gatekeeper will not invite ``user_id`` into ``room_id`` at their own request."""
    if not is_verified_room(session, room_id):
        return f"{room_id} is not a verified room I manage."
    if active_credential(session, user_id) is None:
        return "Verified rooms are for verified clinicians; send !verify first."
    return None
