"""Whom the gatekeeper lets into verified rooms, and the records it keeps of them.

    !room create ─► record_room (after the bot created it): the creator is its owner
    !invite      ─► invite_refusal: verified room, verified inviter who is a joined
                    member (an owner, if the owners said so), verified invitee who has
                    not blocked the inviter (or their server) ─► record_consent
    !join        ─► join_refusal: verified room, verified asker, not in it, not asked
                    already (then bots.gatekeeper.joins: the owners decide)
    !owner add   ─► add_owner (owners only) · !room invites ─► set_invites_by
    !room upgrade ─► announce_upgrade ─(homeserver)─► record_successor
    !block / !unblock ─► add_block / remove_block

A consent is what the homeserver module checks before it lets the gatekeeper's
invite through (VR-13): it is written, and committed, before the invite is sent.

The store side of :mod:`bots.gatekeeper.rooms`, which does the homeserver's;
nothing here touches Matrix.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from curbside.audit import AuditLog
from curbside.credentials import (
    INVITES_BY_MEMBERS,
    INVITES_BY_OWNERS,
    InviteBlock,
    RoomConsent,
    RoomOwner,
    RoomUpgrade,
    VerifiedRoom,
    VerifiedRoomSettings,
    active_credential,
    blocks_invites_from,
    is_verified_room,
    room_owners,
)


def record_room(
    session: Session, audit: AuditLog, room_id: str, created_by: str, name: str, now: datetime
) -> None:
    """A new verified room: its creator is its first owner, and consented to themselves."""
    session.add(VerifiedRoom(room_id=room_id, created_by=created_by, created_at=now))
    session.add(VerifiedRoomSettings(room_id=room_id, invites_by=INVITES_BY_MEMBERS))
    session.add(RoomOwner(room_id=room_id, user_id=created_by, named_by=created_by,
                          named_at=now))
    session.merge(RoomConsent(room_id=room_id, user_id=created_by, consented_by=created_by,
                              consented_at=now))
    session.flush()
    audit.record(
        session, actor=created_by, action="verified_room.create", record_type="verified_room",
        record_id=room_id, details={"name": name},
    )


def owners(session: Session, room_id: str) -> list[str]:
    """The room's owners (a room recorded before owners existed: its creator)."""
    named = room_owners(session, room_id)
    if named:
        return named
    room = session.get(VerifiedRoom, room_id)
    return [room.created_by] if room is not None else []


def is_owner(session: Session, room_id: str, user_id: str) -> bool:
    return user_id in owners(session, room_id)


def record_consent(session: Session, audit: AuditLog, room_id: str, user_id: str, by: str,
                   now: datetime) -> None:
    """The room agrees to ``user_id`` being invited (the module's VR-13 reads this)."""
    session.merge(RoomConsent(room_id=room_id, user_id=user_id, consented_by=by,
                              consented_at=now))
    session.flush()
    audit.record(session, actor=by, action="verified_room.consent", record_type="verified_room",
                 record_id=room_id, details={"user_id": user_id})


def add_owner(session: Session, audit: AuditLog, room_id: str, user_id: str, by: str,
              now: datetime) -> str | None:
    """Name ``user_id`` an owner; the refusal (None: done)."""
    if not is_verified_room(session, room_id):
        return f"{room_id} is not a verified room I manage."
    if not is_owner(session, room_id, by):
        return "Only the room's owners can name another owner."
    if active_credential(session, user_id) is None:
        return f"{user_id} is not a verified clinician, so cannot own a verified room."
    if session.get(RoomOwner, (room_id, user_id)) is None:
        for current in owners(session, room_id):  # a legacy room's creator becomes explicit
            session.merge(RoomOwner(room_id=room_id, user_id=current, named_by=by,
                                    named_at=now))
        session.add(RoomOwner(room_id=room_id, user_id=user_id, named_by=by, named_at=now))
        session.flush()
        audit.record(session, actor=by, action="verified_room.owner_add",
                     record_type="verified_room", record_id=room_id,
                     details={"user_id": user_id})
    return None


def invites_by(session: Session, room_id: str) -> str:
    settings = session.get(VerifiedRoomSettings, room_id)
    return settings.invites_by if settings is not None else INVITES_BY_MEMBERS


def set_invites_by(session: Session, audit: AuditLog, room_id: str, by: str,
                   who: str) -> str | None:
    """Owners decide whether members or only owners may have the gatekeeper invite."""
    if not is_verified_room(session, room_id):
        return f"{room_id} is not a verified room I manage."
    if not is_owner(session, room_id, by):
        return "Only the room's owners decide who may invite."
    settings = session.get(VerifiedRoomSettings, room_id)
    if settings is None:
        session.add(VerifiedRoomSettings(room_id=room_id, invites_by=who))
    else:
        settings.invites_by = who
    session.flush()
    audit.record(session, actor=by, action="verified_room.invites_by",
                 record_type="verified_room", record_id=room_id, details={"invites_by": who})
    return None


def announce_upgrade(session: Session, audit: AuditLog, room_id: str, by: str,
                     now: datetime) -> None:
    """Tell the module an upgrade of ``room_id`` by the gatekeeper is coming (VR-14)."""
    session.merge(RoomUpgrade(room_id=room_id, requested_by=by, requested_at=now,
                              successor_room_id=None))
    session.flush()
    audit.record(session, actor=by, action="verified_room.upgrade_announce",
                 record_type="verified_room", record_id=room_id)


def record_successor(session: Session, audit: AuditLog, room_id: str, successor: str,
                     members: list[str], now: datetime) -> None:
    """The successor is verified, has the old room's owners and settings, and the old
    room's members are consented to (the gatekeeper invites them next)."""
    upgrade = session.get(RoomUpgrade, room_id)
    by = upgrade.requested_by if upgrade is not None else room_id
    if upgrade is not None:
        upgrade.successor_room_id = successor
    old_owners = owners(session, room_id)
    session.add(VerifiedRoom(room_id=successor, created_by=by, created_at=now))
    session.add(VerifiedRoomSettings(room_id=successor, invites_by=invites_by(session, room_id)))
    for owner in old_owners:
        session.add(RoomOwner(room_id=successor, user_id=owner, named_by=by, named_at=now))
    for member in members:
        session.merge(RoomConsent(room_id=successor, user_id=member, consented_by=by,
                                  consented_at=now))
    session.flush()
    audit.record(session, actor=by, action="verified_room.upgrade", record_type="verified_room",
                 record_id=room_id, details={"successor": successor, "members": len(members)})


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
    session: Session, room_id: str, inviter: str, invitee: str, *, inviter_joined: bool
) -> str | None:
    """Why the gatekeeper will not invite ``invitee`` on ``inviter``'s behalf (None: it will)."""
    if not is_verified_room(session, room_id):
        return f"{room_id} is not a verified room I manage."
    if active_credential(session, inviter) is None:
        return "Only verified clinicians can invite to verified rooms; send !verify first."
    if not inviter_joined:
        return (f"Only members of {room_id} can invite to it. To get in yourself, ask its "
                f"owners with !join {room_id}.")
    if invites_by(session, room_id) == INVITES_BY_OWNERS and not is_owner(
            session, room_id, inviter):
        return (f"The owners of {room_id} invite to it themselves; ask one of them "
                f"({', '.join(owners(session, room_id))}).")
    if active_credential(session, invitee) is None:
        return (
            f"{invitee} is not a verified clinician, so I cannot invite them to a verified "
            "room. Ask them to send me !verify in a direct message; once verified, invite "
            "them again."
        )
    if blocks_invites_from(session, invitee, inviter):
        return f"{invitee} does not accept invites from you."
    return None


def join_refusal(session: Session, room_id: str, user_id: str, *, member: bool) -> str | None:
    """Why the gatekeeper will not put ``user_id``'s request to join to the owners."""
    if not is_verified_room(session, room_id):
        return f"{room_id} is not a verified room I manage."
    if active_credential(session, user_id) is None:
        return "Verified rooms are for verified clinicians; send !verify first."
    if member:
        return f"You are already in {room_id}."
    return None
