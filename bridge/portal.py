"""A portal: one room ⇄ one fax conversation with one number, both directions.

    Matrix → fax   document in the room ─► encrypted? ─► sender verified?
                   ─► number confirmed by this room, or assigned? ─► PDF
                   ─► Gateway.submit(key = the event id) ─► link job ⇄ event ─► "queued"
                   job changes ─► notice in the file's thread: sending, delivered, failed
    fax → Matrix   fax received for the portal's owner ─► a DM owner not joined yet?
                   ─► the relay's transaction: held row + feed cursor (nothing read or posted)
                   ─► else PDF read (audited) ─► encrypted upload ─► the relay's
                      transaction: notice + m.file into the puppet's outbox + feed cursor
                   owner's join ─► release: held rows removed + notice + m.file,
                      one transaction per fax
                   a DM owner who left (the homeserver's member state) ─► None: the
                      relay hands the fax to the operator fax inbox instead

Each portal has its own lock (the mautrix shape): it serialises what the
portal posts and the rows saying it was posted, so concurrent triggers (a
join seen in a transaction and in a sync) deliver a held fax once, while one
room's slow upload holds up no other room. The bridge keeps one Portal per
room and number (:meth:`bridge.bridge.Bridge.portal`), hence one lock. Work
that writes into a transaction it does not commit itself (a feed item, a
handler) holds the lock until that transaction ends (``hold_for``), so the
next holder — on another thread — reads what was written under it. A fax is
patient data: it is posted only into an encrypted room.

Every "no" on the way out is answered in the event's thread with what to
do. The gateway's idempotency key is the Matrix event id, so a handler that
runs twice (crash before commit) submits one fax.

Why hold: a DM the puppet opens has only the puppet in it until the owner
accepts the invite. Anything posted then is encrypted with a room key shared
before the owner's devices were members, and strict clients (Element
"exclude insecure devices") showed those first messages as sent by an
unknown device. Held faxes are not even read from the inbox until released.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bridge.numbers import InvalidNumber, display
from bridge.services import Services
from bridge.store import ROOM_OWNER, USER_OWNER, FaxLink, Held, PortalView
from bridge.user import NOT_VERIFIED, User
from curbside.database import session_scope
from curbside.matrix import content as build
from curbside.matrix.context import Context
from curbside.matrix.files import AttachmentError, upload_encrypted
from curbside.matrix.offloop import ThreadSafeLock
from fax_gateway import (
    Disposition,
    DocumentRefused,
    IdempotencyConflict,
    InvalidDocument,
    JobChange,
    JobState,
    OwnerKind,
    Sandbox,
)

if TYPE_CHECKING:
    from bridge.puppet import Puppet

DOCUMENT_MSGTYPES = ("m.file", "m.image")
# The gateway's owners a portal can stand for, as the bridge's store names them.
OWNER_KINDS = {OwnerKind.MATRIX_USER: USER_OWNER, OwnerKind.ROOM: ROOM_OWNER}

STATUS_TEXT: dict[JobState, str] = {
    JobState.SENDING: "Sending to {number} …",
    JobState.DELIVERED: "Delivered to {number} — {pages}.",
    JobState.FAILED: "Failed: the fax to {number} was not delivered ({reason}).",
    JobState.CANCELLED: "Cancelled: the fax to {number} will not be sent ({reason}).",
}
RETRY_TEXT = "Not through yet ({reason}); I will try {number} again."


def status_text(change: JobChange, number: str, pages: int | None) -> str | None:
    """What the portal is told about a change; None for steps not worth a message."""
    if change.state is JobState.QUEUED:
        return None if change.reason == "submitted" else \
            RETRY_TEXT.format(reason=change.reason, number=display(number))
    template = STATUS_TEXT.get(change.state)
    if template is None:
        return None
    return template.format(number=display(number), pages=page_count(pages),
                           reason=change.reason)


def page_count(pages: int | None) -> str:
    """'1 page', '3 pages' ('pages' when the count is not known yet)."""
    if pages is None:
        return "pages"
    return f"{pages} page" if pages == 1 else f"{pages} pages"


def welcome_text(portal: PortalView, number: str) -> str:
    if portal.owner_kind == USER_OWNER:
        return (f"This chat faxes {display(number)}. Send a PDF or a photo of a document and "
                "I fax it, then report here: queued, sending, delivered or failed. "
                "Faxes received from this number arrive here too. Send !fax help for more.")
    return f"Faxes received on {display(number)} now arrive in this room."


def confirm_text(number: str) -> str:
    shown = display(number)
    return (f"Before the first fax from this room to {shown}, confirm the number and who "
            f"receives it, e.g.: !fax confirm {shown} Dr. Lee's office — then send the "
            "document again.")


def as_pdf(documents: Sandbox, data: bytes) -> bytes:
    """PDFs pass through; an image (a photo of a page) becomes a one-page PDF.

    Both are checked and converted in the gateway's document sandbox (limits on
    size, pages and pixels), never parsed in the bridge's own process.
    """
    try:
        pdf, _ = documents.as_pdf(data, kinds=("pdf", "png", "jpeg"))
    except DocumentRefused as refused:
        raise InvalidDocument(refused.reason) from None
    return pdf


class Portal:
    """One room ⇄ one number; posts as the number's puppet."""

    def __init__(self, view: PortalView, puppet: Puppet, services: Services) -> None:
        self.room_id = view.room_id
        self.owner_kind = view.owner_kind
        self.owner_id = view.owner_id
        self.puppet = puppet
        self.services = services
        self._engine = services.config.runtime.engine
        self._lock = ThreadSafeLock()  # held from handler threads and the main loop

    @property
    def number(self) -> str:
        return self.puppet.number

    # -- Matrix → fax ------------------------------------------------------------

    async def handle_matrix_document(self, ctx: Context) -> None:
        """Fax the document of ``ctx.event`` to the number if everything allows it."""
        await self._lock.hold_for(ctx.session)
        await self._send_document(ctx)

    async def _send_document(self, ctx: Context) -> None:
        event, services, number = ctx.event, self.services, self.number
        if not event.encrypted:
            ctx.reply("I only fax documents sent end-to-end encrypted. Turn on encryption in "
                      "this room's settings and send it again.", mentions=[event.sender])
            return
        sender = User.verified(ctx.session, event.sender)
        if sender is None:
            ctx.reply(NOT_VERIFIED, mentions=[event.sender])
            return
        name = services.store.known_name(ctx.session, self.room_id, number)
        if name is None and services.owner(number) is None:
            ctx.reply(confirm_text(number), mentions=[event.sender])
            return
        try:
            data = await ctx.download_file()
            pdf = await asyncio.to_thread(as_pdf, services.gateway.documents, data)
            job = await asyncio.to_thread(
                services.gateway.submit, pdf, number,
                idempotency_key=f"matrix:{event.event_id}", actor=sender.user_id,
                recipient_name=name,
            )
        except (AttachmentError, InvalidDocument, IdempotencyConflict) as exc:
            ctx.reply(f"I could not fax that: {exc}. Send a PDF or an image.",
                      mentions=[event.sender])
            return
        except InvalidNumber as exc:  # confirmed or assigned before the number rules changed
            ctx.reply(f"I could not fax that: {exc}.", mentions=[event.sender])
            return
        services.store.link_fax(ctx.session, FaxLink(
            job.id, event.event_id, build.thread_root_of(event), self.room_id,
            self.puppet.user_id, sender.user_id,
        ))
        to = f"{display(number)} ({name})" if name else display(number)
        # The fax's own thread (its status updates follow there), in a DM too.
        ctx.reply(f"Queued: fax to {to}, {page_count(job.pages)}.", start_thread=True)

    async def handle_job_change(self, change: JobChange, link: FaxLink, session: Session) -> None:
        """Tell the file's thread how its fax is doing, in the feed's ``session``."""
        job = await asyncio.to_thread(self.services.gateway.job, change.job_id)
        text = status_text(change, self.number, job.pages)
        if text is None:
            return
        await self._lock.hold_for(session)
        self.puppet.poster.post(session, self.room_id, text, thread=link.thread_root,
                                reply_to=link.event_id)

    # -- fax → Matrix ------------------------------------------------------------

    async def handle_received(self, inbound_id: str, session: Session) -> Disposition | None:
        """Post a fax received for this portal's owner, or hold it until they join;
        either is written in the feed's ``session``, and said (delivered, held).
        None: the owner left this portal, so it cannot receive here."""
        await self.puppet.wait_in_room(self.room_id)
        await self._lock.hold_for(session)
        if self.owner_kind == USER_OWNER and \
                not self.puppet.has_joined(self.room_id, self.owner_id):
            if await self.puppet.has_left(self.room_id, self.owner_id):
                return None
            # Nothing is posted (no room key shared) before the owner's devices are in.
            self.services.store.hold(session, Held(
                inbound_id, self.room_id, self.puppet.user_id, self.owner_id))
            return Disposition.HELD
        self._post_fax(session, await self._fax_contents(inbound_id))
        return Disposition.DELIVERED

    async def release_held(self, wait: float = 0.0) -> int:
        """Deliver the faxes held for the owner, once they joined; how many.

        ``wait`` gives the puppet's own sync that long to show the join (a
        transaction can be ahead of it): room keys go only to members the
        puppet knows. Held rows are read under the lock and each is removed
        in the transaction that queues its notice and PDF, so a fax another
        trigger delivered meanwhile is not delivered again.
        """
        if not await self.puppet.wait_joined(self.room_id, self.owner_id, wait):
            return 0
        delivered = 0
        async with self._lock:
            for inbound_id in self._held():
                contents = await self._fax_contents(inbound_id)
                with session_scope(self._engine) as session:
                    self.services.store.release(session, inbound_id)
                    self._post_fax(session, contents)
                    self.services.gateway.dispose(
                        inbound_id, Disposition.DELIVERED, actor=self.puppet.user_id,
                        reason="released to its owner, who joined", session=session)
                delivered += 1
        return delivered

    def _post_fax(self, session: Session, contents: list[dict[str, Any]]) -> None:
        for content in contents:
            self.puppet.poster.post(session, self.room_id, content=content, phi=True)

    def _held(self) -> list[str]:
        with session_scope(self._engine) as session:
            held = self.services.store.held(session, self.room_id)
        return [item.inbound_id for item in held if item.puppet_id == self.puppet.user_id]

    async def _fax_contents(self, inbound_id: str) -> list[dict[str, Any]]:
        """The notice and the encrypted PDF (read from the inbox: audited) of a received fax."""
        gateway = self.services.gateway
        envelope = await asyncio.to_thread(gateway.inbound_envelope, inbound_id)
        pdf = await asyncio.to_thread(
            gateway.inbound_document, inbound_id, actor=self.puppet.user_id,
            reason="deliver a received fax to the number's owner",
        )
        received_at, from_number = envelope.received_at, envelope.from_number
        stamp = received_at.strftime("%Y-%m-%d %H:%M UTC")
        sender = display(from_number) if from_number and from_number.startswith("+") \
            else (from_number or "an unknown sender")
        message = build.notice(f"Fax received on {display(self.number)} from {sender} "
                               f"at {stamp} — {page_count(envelope.pages)}.")
        file = await upload_encrypted(self.puppet.client, pdf,
                                      f"fax-{received_at:%Y%m%d-%H%M}-{inbound_id[:8]}.pdf",
                                      "application/pdf")
        return [message, file]
