"""What a handler gets: the event, the transaction, and ways to answer.

Everything a handler does to our database goes through ``ctx.session``; every
message it sends goes through the runtime's :class:`~curbside.matrix.posting.Poster`
into the outbox in that same session. The runtime commits the session
together with the "event handled" mark, so effects and replies happen once or
not at all.

The handler runs on a handler thread (``curbside.matrix.offloop``), so its
synchronous database calls never hold up the event loop; ``ctx.client`` is
the view of the nio client whose calls run on the main loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nio
from sqlalchemy.orm import Session

from curbside.matrix import content as build
from curbside.matrix.events import IncomingEvent
from curbside.matrix.files import download_decrypted, upload_encrypted
from curbside.matrix.posting import MESSAGE, Poster


@dataclass
class Context:
    event: IncomingEvent
    session: Session
    client: nio.AsyncClient
    poster: Poster

    def reply(
        self,
        body: str,
        html: str | None = None,
        *,
        mentions: Sequence[str] = (),
        phi: bool = False,
        start_thread: bool = False,
    ) -> str:
        """Answer with an ``m.notice``; returns the txn id.

        Placed by :func:`~curbside.matrix.content.reply_thread`: in the event's
        thread, a new thread in a group room, the main timeline of a one-to-one
        chat (``start_thread=True``: a thread there too, for a conversation
        kept apart, like a referral form). ``phi=True`` refuses (raises) when
        the room is not encrypted.
        """
        thread = build.reply_thread(self.event, direct=self.is_direct, start=start_thread)
        return self.post(
            self.event.room_id, body, html, mentions=mentions, phi=phi,
            thread=thread, reply_to=self.event.event_id,
        )

    @property
    def is_direct(self) -> bool:
        """Whether the event's room is a one-to-one chat (the bot and one person)."""
        room = self.client.rooms.get(self.event.room_id)
        return room is not None and room.member_count <= 2

    def post(self, room_id: str, body: str | None = None, html: str | None = None,
             **options: Any) -> str:
        """Queue a message anywhere in this handler's transaction (see :meth:`Poster.post`)."""
        return self.poster.post(self.session, room_id, body, html, **options)

    def send(
        self,
        room_id: str,
        message: dict[str, Any],
        *,
        event_type: str = MESSAGE,
        phi: bool = False,
    ) -> str:
        """Queue any event content for ``room_id`` in this transaction."""
        return self.post(room_id, content=message, event_type=event_type, phi=phi)

    def send_phi(self, room_id: str, message: dict[str, Any]) -> str:
        """Queue patient data; refused unless the room is end-to-end encrypted."""
        return self.send(room_id, message, phi=True)

    async def upload_file(self, data: bytes, name: str, mimetype: str) -> dict[str, Any]:
        """Encrypt and upload a file; returns ``m.file`` content for :meth:`send`."""
        return await upload_encrypted(self.client, data, name, mimetype)

    async def download_file(self, message: dict[str, Any] | None = None) -> bytes:
        """Download and decrypt the file of ``message`` (default: this event)."""
        return await download_decrypted(self.client, message or self.event.content)
