"""Where the desk keeps what it is in the middle of, so a restart resumes it.

    DeskConversation  one thread where the desk is asking: the guided form (its
                      answers sealed as PHI) or "why do you decline?"
    DeskThread        a referral's two threads: the referrer's (status posts go
                      there) and the recipient's DM thread (files there are notes)
    DeskDirectRoom    the DM the desk shares with each recipient

The desk's service and the verdicts call these inside their caller's
transaction; nothing here commits, flushes on its own, or talks to Matrix.
A conversation's state changes only through :func:`make_draft` and
:func:`close`, by the table ``NEXT_STATES``.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.referral_desk.form import Form
from bots.referral_desk.models import (
    ASKING,
    CLOSED,
    DRAFT,
    FORM,
    DeskConversation,
    DeskDirectRoom,
    DeskThread,
)

# A conversation's lifecycle: a form asks until its draft exists; every
# conversation closes once (sent, cancelled, or its question answered).
NEXT_STATES: dict[str, tuple[str, ...]] = {
    ASKING: (DRAFT, CLOSED),
    DRAFT: (CLOSED,),
}


def find(session: Session, room_id: str, thread_root: str) -> DeskConversation | None:
    """The open conversation of a thread, if the desk is asking something there."""
    return session.scalars(
        select(DeskConversation).where(
            DeskConversation.room_id == room_id,
            DeskConversation.thread_root == thread_root,
            DeskConversation.state != CLOSED,
        )
    ).one_or_none()


def start(
    session: Session,
    *,
    room_id: str,
    thread_root: str,
    user_id: str,
    purpose: str = FORM,
    referral_id: str | None = None,
    now: datetime,
) -> DeskConversation:
    row = DeskConversation(
        room_id=room_id, thread_root=thread_root, user_id=user_id, purpose=purpose,
        state=ASKING, answers=json.dumps([]), referral_id=referral_id,
        created_at=now, updated_at=now,
    )
    session.add(row)
    return row


def load_form(row: DeskConversation) -> Form:
    return Form(tuple((str(k), str(v)) for k, v in json.loads(row.answers)))


def save_form(row: DeskConversation, form: Form, now: datetime) -> None:
    row.answers = json.dumps([list(pair) for pair in form.answers])
    row.updated_at = now


def make_draft(row: DeskConversation, referral_id: str, now: datetime) -> None:
    """The form is complete and its draft case exists: files attach to it, !send sends it."""
    _move(row, DRAFT, now)
    row.referral_id = referral_id


def close(row: DeskConversation, now: datetime) -> None:
    """Sent, cancelled or answered: the thread is no longer asking anything."""
    _move(row, CLOSED, now)


def _move(row: DeskConversation, state: str, now: datetime) -> None:
    """The one writer of a conversation's state, by the table."""
    if state not in NEXT_STATES.get(row.state, ()):
        raise ValueError(f"a conversation that is {row.state} cannot become {state}")
    row.state = state
    row.updated_at = now


def remember_thread(
    session: Session, referral_id: str, role: str, room_id: str, thread_root: str
) -> None:
    row = session.get(DeskThread, (referral_id, role))
    if row is None:
        session.add(DeskThread(referral_id=referral_id, role=role, room_id=room_id,
                               thread_root=thread_root))
    else:
        row.room_id, row.thread_root = room_id, thread_root


def thread_of(session: Session, referral_id: str, role: str) -> DeskThread | None:
    return session.get(DeskThread, (referral_id, role))


def referral_in_thread(session: Session, room_id: str, thread_root: str) -> DeskThread | None:
    """The referral a thread is about (either side), if any."""
    return session.scalars(
        select(DeskThread).where(
            DeskThread.room_id == room_id, DeskThread.thread_root == thread_root
        )
    ).first()


def direct_room(session: Session, user_id: str) -> str | None:
    row = session.get(DeskDirectRoom, user_id)
    return row.room_id if row else None


def remember_direct_room(session: Session, user_id: str, room_id: str) -> None:
    row = session.get(DeskDirectRoom, user_id)
    if row is None:
        session.add(DeskDirectRoom(user_id=user_id, room_id=room_id))
    else:
        row.room_id = room_id
