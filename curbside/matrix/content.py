"""Builders for the event contents bots send.

Bot messages are ``m.notice`` (clients and other bots know not to answer
them) with an HTML ``formatted_body``. Where a reply goes is
:func:`reply_thread`'s rule: in a group room, into the command's thread
(``m.relates_to`` with ``rel_type: m.thread`` plus the ``m.in_reply_to``
fallback that thread-unaware clients show as a reply); in a one-to-one chat,
the main timeline, so a conversation reads as a chat rather than one thread
per answer.
Mentions carry both the ``m.mentions`` list (what notifies) and a pill link
(what a person sees).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from curbside.matrix.events import IncomingEvent


def pill(user_id: str, display_name: str | None = None) -> str:
    """HTML link that clients render as a mention pill."""
    label = html.escape(display_name or user_id)
    return f'<a href="https://matrix.to/#/{quote(user_id, safe="@:")}">{label}</a>'


def notice(
    body: str,
    html_body: str | None = None,
    *,
    mentions: Sequence[str] = (),
) -> dict[str, Any]:
    """An ``m.notice``; the HTML defaults to the escaped plain body."""
    formatted = html_body if html_body is not None else html.escape(body).replace("\n", "<br>")
    return {
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
        "m.mentions": {"user_ids": sorted(set(mentions))},
    }


def thread_root_of(event: IncomingEvent) -> str:
    """The thread an event belongs to; an event outside a thread starts one."""
    relates = event.content.get("m.relates_to") or {}
    if relates.get("rel_type") == "m.thread" and isinstance(relates.get("event_id"), str):
        return str(relates["event_id"])
    return event.event_id


def reply_thread(event: IncomingEvent, *, direct: bool, start: bool = False) -> str | None:
    """The thread a reply to ``event`` goes in; None for the main timeline.

    A message already in a thread is answered there. Outside a thread, a
    group room gets a new thread rooted at the message (conversations kept
    apart); a one-to-one chat (``direct``) is answered in its main timeline,
    because Element shows each thread as its own conversation and a chat of
    many answers would become many threads. ``start``: the reply begins a
    conversation of its own (a referral form) that stays in one thread, DM or not.
    """
    relates = event.content.get("m.relates_to") or {}
    if relates.get("rel_type") == "m.thread" and isinstance(relates.get("event_id"), str):
        return str(relates["event_id"])
    return None if direct and not start else event.event_id


def threaded(
    content: dict[str, Any], thread_root: str, reply_to: str | None = None
) -> dict[str, Any]:
    """Place ``content`` in the thread rooted at ``thread_root``.

    The one place a thread relation is built. ``reply_to`` is the event a
    thread-unaware client shows it as a reply to (default: the root).
    """
    placed = dict(content)
    placed["m.relates_to"] = {
        "rel_type": "m.thread",
        "event_id": thread_root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": reply_to or thread_root},
    }
    return placed


def replying(content: dict[str, Any], reply_to: str) -> dict[str, Any]:
    """``content`` as a reply to ``reply_to`` in the main timeline (no thread)."""
    placed = dict(content)
    placed["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return placed


def in_thread(content: dict[str, Any], event: IncomingEvent) -> dict[str, Any]:
    """Place ``content`` in ``event``'s thread, replying to ``event``."""
    return threaded(content, thread_root_of(event), event.event_id)


def file_message(
    name: str, mimetype: str, size: int, mxc_url: str, file_info: dict[str, Any]
) -> dict[str, Any]:
    """An ``m.file`` whose bytes were uploaded encrypted (``file`` replaces ``url``)."""
    encrypted_file = dict(file_info)
    encrypted_file["url"] = mxc_url
    return {
        "msgtype": "m.file",
        "body": name,
        "filename": name,
        "info": {"mimetype": mimetype, "size": size},
        "file": encrypted_file,
    }
