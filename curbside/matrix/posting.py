"""The one way a bot says something: queue it in the caller's transaction.

    handler / job / service ──post(session, room, text, thread=…, phi=…)──┐
                                                                          ▼
        PHI guard (encrypted room?) ─► content (notice, mentions, thread relation)
        ─► matrix_outbox row in *the caller's* session ─► after commit: wake the sender

Because the row is written in the caller's transaction, a message exists
exactly when the effects it announces exist: a rolled-back handler sends
nothing, a committed one sends once (the row's fixed transaction id makes a
resend after a crash a no-op at the homeserver). Nothing here does network
I/O, so services may post without touching Matrix.

``on_sent`` names a hook the runtime runs, in one transaction with marking
the row sent, once the homeserver has accepted the event: it is how a caller
learns the event id of something it queued (a referral packet that becomes
the root of the recipient's thread) without sending it itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from curbside.database import after_commit
from curbside.matrix import content as build
from curbside.matrix.storage import RuntimeStore

MESSAGE = "m.room.message"
# Session.info flag of a handler's session: the runtime hands its committed
# rows to the sender itself, so posting does not wake the outbox loader.
HANDED_TO_SENDER = "curbside.outbox.handed_to_sender"


class Poster:
    """Queues one bot account's messages; built by the runtime, used by everyone above it."""

    def __init__(
        self,
        store: RuntimeStore,
        *,
        require_encrypted: Callable[[str], None],
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self.require_encrypted = require_encrypted
        self._wake = wake

    def post(
        self,
        session: Session,
        room_id: str,
        body: str | None = None,
        html: str | None = None,
        *,
        content: dict[str, Any] | None = None,
        thread: str | None = None,
        reply_to: str | None = None,
        mentions: Sequence[str] = (),
        phi: bool = False,
        event_type: str = MESSAGE,
        on_sent: str | None = None,
        key: str | None = None,
    ) -> str:
        """Queue a notice (``body``/``html``) or any ``content``; returns the txn id.

        ``thread`` places it in that thread (replying to ``reply_to``, default
        the root); without one, ``reply_to`` makes it a reply in the main
        timeline. ``phi=True`` refuses, by raising
        :class:`~curbside.matrix.rooms.UnencryptedRoomError`, when the room is
        not end-to-end encrypted. ``key`` makes the post idempotent: queued
        once however often the caller's work runs.
        """
        if phi:
            self.require_encrypted(room_id)
        if content is None:
            if body is None:
                raise TypeError("post() needs a body or a content")
            content = build.notice(body, html, mentions=mentions)
        elif body is not None:
            raise TypeError("post() takes a body or a content, not both")
        if thread is not None:
            content = build.threaded(content, thread, reply_to)
        elif reply_to is not None:
            content = build.replying(content, reply_to)
        txn_id = self._store.enqueue(session, room_id, content, event_type, on_sent=on_sent,
                                     key=key)
        if not session.info.get(HANDED_TO_SENDER):
            after_commit(session, self._wake)
        return txn_id
