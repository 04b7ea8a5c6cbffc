"""Telling a clinician something in private, once.

The gatekeeper talks to a clinician in the direct-message room they used for
``!verify`` (remembered as their *contact*); a clinician verified by roster
import gets a new DM on first need. Each notice has a key (``kind``, ``key``):
once recorded as sent it is not sent again, so a sweeper that runs every few
seconds reminds once and reports a removal once. These are the records only; the
sweep opens the DM (:func:`bots.gatekeeper.revocation.open_dm`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bots.gatekeeper.models import Contact, SentNotice


def contact_room(session: Session, user_id: str) -> str | None:
    contact = session.get(Contact, user_id)
    return contact.room_id if contact else None


def remember_contact(session: Session, user_id: str, room_id: str, now: datetime) -> None:
    """The DM room the clinician last talked to the gatekeeper in."""
    contact = session.get(Contact, user_id)
    if contact is None:
        session.add(Contact(user_id=user_id, room_id=room_id, updated_at=now))
    elif contact.room_id != room_id:
        contact.room_id = room_id
        contact.updated_at = now


def was_sent(session: Session, user_id: str, kind: str, key: str) -> bool:
    return session.get(SentNotice, (user_id, kind, key[:64])) is not None


def mark_sent(session: Session, user_id: str, kind: str, key: str, now: datetime) -> None:
    session.add(SentNotice(user_id=user_id, kind=kind, key=key[:64], sent_at=now))

