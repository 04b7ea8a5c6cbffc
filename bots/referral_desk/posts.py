"""Messages the desk posts into a referral's threads outside a command's reply.

A status change made by one party is announced in the *other* party's thread
(the referrer's room, the recipient's DM): those posts are not replies to
the event being handled, so they are placed in the thread by its root,
through the bot's poster, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from bots.referral_desk import conversations
from curbside.matrix.posting import Poster
from referral.states import Status

STATUS_WORDS: dict[Status, str] = {
    Status.REQUESTED: "was sent",
    Status.ACCEPTED: "was accepted",
    Status.REJECTED: "was declined",
    Status.IN_PROGRESS: "is in progress",
    Status.ON_HOLD: "is on hold",
    Status.COMPLETED: "is completed — the loop is closed",
    Status.CANCELLED: "was cancelled by the referrer",
    Status.FAILED: "could not be delivered",
}


def status_line(referral_id: str, status: Status, by: str, reason: str = "") -> str:
    """'RF-… was declined by @cardio:…: reason: fully booked until March'."""
    text = f"{referral_id} {STATUS_WORDS[status]} (by {by})"
    return f"{text}. Reason: {reason}" if reason else f"{text}."


class PartyThreads:
    """Posts into the referrer's or the recipient's thread of one referral."""

    def __init__(self, poster: Poster) -> None:
        self.poster = poster

    def say(self, session: Session, referral_id: str, role: str, text: str, *,
            phi: bool = False, mentions: Sequence[str] = ()) -> None:
        """A notice in the party's thread; nothing when that thread is not known yet."""
        thread = conversations.thread_of(session, referral_id, role)
        if thread is not None:
            self.poster.post(session, thread.room_id, text, thread=thread.thread_root,
                              phi=phi, mentions=mentions)

    def send(self, session: Session, referral_id: str, role: str,
             content: dict[str, Any]) -> None:
        """Any content (a file) in the party's thread; always treated as patient data."""
        thread = conversations.thread_of(session, referral_id, role)
        if thread is not None:
            self.poster.post(session, thread.room_id, content=content,
                              thread=thread.thread_root, phi=True)
