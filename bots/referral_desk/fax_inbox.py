"""No fax is lost: the referral desk's faxes, and the operator fax inbox room.

    inbound feed, owner REFERRAL_DESK (the default owner of every number nobody
    has taken, or a number routed to the desk) ─► take ─► nothing at the desk
        reads it ─► Gateway.dispose(operator), in the feed's transaction
    disposition feed, kind operator (ours above, and the bridge's: an owner
    without a portal, an owner who left) ─► post
        ─► the envelope (called and calling number) and the PDF (an audited read)
        ─► encrypted upload ─► notice + m.file into operator.fax_inbox_room,
           queued in the feed's transaction with its cursor: posted once

The inbox room holds patient information: the posts are ``phi=True``, so
the poster refuses a room that is not end-to-end encrypted. Without a
configured inbox room the fax stays in the gateway (its disposition says
where it should have gone) and a warning names the setting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import nio
from sqlalchemy.orm import Session

from curbside.matrix import content as build
from curbside.matrix.files import upload_encrypted
from curbside.matrix.posting import Poster
from curbside.phones import display
from fax_gateway import Disposition, DispositionRecord, Gateway, InboundRecord

log = logging.getLogger(__name__)

UNOWNED = "no one on Curbside has taken this number"
NOT_FOR_THE_DESK = "routed to the referral desk, which found nothing it acts on"


def _shown(number: str | None) -> str:
    if not number:
        return "an unknown sender"
    return display(number) if number.startswith("+") else number


class FaxInbox:
    """The desk's part in accounting for every received fax."""

    def __init__(self, gateway: Gateway, poster: Poster, client: Callable[[], nio.AsyncClient],
                 *, room_id: str | None, actor: str) -> None:
        self.gateway = gateway
        self.poster = poster
        self._client = client
        self.room_id = room_id
        self.actor = actor

    def take(self, session: Session, record: InboundRecord) -> None:
        """A fax owned by the referral desk: nothing here reads it, so the operator does."""
        envelope = self.gateway.inbound_envelope(record.id)
        reason = UNOWNED if self.gateway.owner_of(envelope.to_number) is None \
            else NOT_FOR_THE_DESK
        self.gateway.dispose(record.id, Disposition.OPERATOR, actor=self.actor, reason=reason,
                             session=session)

    async def post(self, session: Session, entry: DispositionRecord) -> None:
        """Put a fax handed to the operator into the inbox room (others pass by)."""
        if entry.disposition is not Disposition.OPERATOR:
            return
        if self.room_id is None:
            log.warning("inbound fax %s is for the operator, but operator.fax_inbox_room "
                        "is not set: it stays in the fax gateway", entry.inbound_id)
            return
        gateway = self.gateway
        envelope = await asyncio.to_thread(gateway.inbound_envelope, entry.inbound_id)
        pdf = await asyncio.to_thread(gateway.inbound_document, entry.inbound_id,
                                      actor=self.actor, reason="operator fax inbox")
        received_at = envelope.received_at
        file = await upload_encrypted(
            self._client(), pdf, f"fax-{received_at:%Y%m%d-%H%M}-{entry.inbound_id[:8]}.pdf",
            "application/pdf")
        text = (f"Fax received on {_shown(envelope.to_number)} from "
                f"{_shown(envelope.from_number)} at {received_at:%Y-%m-%d %H:%M UTC} — "
                f"{envelope.pages} pages. Nobody receives it on Matrix: {entry.reason}. "
                "To route this number's faxes, a clinician runs !fax assign in a chat with "
                "the number, or set it in the fax.routes configuration.")
        self.poster.post(session, self.room_id, content=build.notice(text), phi=True)
        self.poster.post(session, self.room_id, content=file, phi=True)
