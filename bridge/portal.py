"""A portal: one room ⇄ one fax conversation with one number.

    file event in the portal ─► encrypted? ─► sender verified? ─► number known
        to this room (confirmed) or assigned? ─► download + decrypt ─► PDF
        ─► Gateway.submit(key = the event id) ─► link job ⇄ event ─► "queued"

Every "no" is answered in the event's thread with what to do. The gateway's
idempotency key is the Matrix event id, so a handler that runs twice (crash
before commit) submits one fax. Status texts for the job's later life are a
table (:data:`STATUS_TEXT`) used by :mod:`bridge.relay`.
"""

from __future__ import annotations

import asyncio
import io

from PIL import Image, UnidentifiedImageError

from bridge.numbers import InvalidNumber, display
from bridge.services import Services
from bridge.store import USER_OWNER, FaxLink, PortalView
from bridge.user import NOT_VERIFIED, User
from curbside.matrix import content as build
from curbside.matrix.context import Context
from curbside.matrix.files import AttachmentError
from fax_gateway.outbox import IdempotencyConflict, InvalidDocument
from fax_gateway.status import JobState

DOCUMENT_MSGTYPES = ("m.file", "m.image")

STATUS_TEXT: dict[JobState, str] = {
    JobState.SENDING: "Sending to {number} …",
    JobState.DELIVERED: "Delivered to {number} — {pages} pages.",
    JobState.FAILED: "Failed: the fax to {number} was not delivered ({reason}).",
    JobState.CANCELLED: "Cancelled: the fax to {number} will not be sent ({reason}).",
}
RETRY_TEXT = "Not through yet ({reason}); I will try {number} again."


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


def as_pdf(data: bytes, mimetype: str) -> bytes:
    """PDFs pass through; an image (a photo of a page) becomes a one-page PDF."""
    if mimetype == "application/pdf" or data.startswith(b"%PDF"):
        return data
    try:
        with Image.open(io.BytesIO(data)) as image:
            out = io.BytesIO()
            image.convert("RGB").save(out, "PDF", resolution=200.0)
            return out.getvalue()
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidDocument("this file is neither a PDF nor an image I can read") from exc


async def send_document(ctx: Context, services: Services, number: str) -> None:
    """Fax the document of ``ctx.event`` to ``number`` if everything allows it."""
    event = ctx.event
    portal = services.store.portal(ctx.session, event.room_id, services.puppet_id(number))
    if portal is None:
        return
    if not event.encrypted:
        ctx.reply("I only fax documents sent end-to-end encrypted. Turn on encryption in this "
                  "room's settings and send it again.", mentions=[event.sender])
        return
    sender = User.verified(ctx.session, event.sender)
    if sender is None:
        ctx.reply(NOT_VERIFIED, mentions=[event.sender])
        return
    name = services.store.known_name(ctx.session, event.room_id, number)
    if name is None and services.owner(ctx.session, number) is None:
        ctx.reply(confirm_text(number), mentions=[event.sender])
        return
    mimetype = str((event.content.get("info") or {}).get("mimetype", ""))
    try:
        pdf = as_pdf(await ctx.download_file(), mimetype)
        job = await asyncio.to_thread(
            services.gateway.submit, pdf, number, idempotency_key=f"matrix:{event.event_id}",
            actor=sender.user_id, recipient_name=name,
        )
    except (AttachmentError, InvalidDocument, IdempotencyConflict) as exc:
        ctx.reply(f"I could not fax that: {exc}. Send a PDF or an image.",
                  mentions=[event.sender])
        return
    except InvalidNumber as exc:  # confirmed or assigned before the number rules changed
        ctx.reply(f"I could not fax that: {exc}.", mentions=[event.sender])
        return
    services.store.link_fax(ctx.session, FaxLink(
        job.id, event.event_id, build.thread_root_of(event), event.room_id,
        portal.puppet_id, sender.user_id,
    ))
    to = f"{display(number)} ({name})" if name else display(number)
    ctx.reply(f"Queued: fax to {to}, {job.pages} pages.")
