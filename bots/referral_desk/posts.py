"""Messages the desk posts into a referral's threads outside a command's reply.

A status change made by one party is announced in the *other* party's thread
(the referrer's room, the recipient's DM): those posts are not replies to
the event being handled, so they are placed in the thread by its root.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curbside.matrix import content as build
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


def in_thread(content: dict[str, Any], thread_root: str) -> dict[str, Any]:
    """Place ``content`` in the thread rooted at ``thread_root``."""
    placed = dict(content)
    placed["m.relates_to"] = {
        "rel_type": "m.thread",
        "event_id": thread_root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": thread_root},
    }
    return placed


def thread_notice(body: str, thread_root: str, mentions: Sequence[str] = ()) -> dict[str, Any]:
    return in_thread(build.notice(body, mentions=mentions), thread_root)


def status_line(referral_id: str, status: Status, by: str, reason: str = "") -> str:
    """'RF-… was declined by @cardio:…: reason: fully booked until March'."""
    text = f"{referral_id} {STATUS_WORDS[status]} (by {by})"
    return f"{text}. Reason: {reason}" if reason else f"{text}."
