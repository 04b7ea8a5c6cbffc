"""The packet: cover sheet + letter (+ fax-back reply sheet) + attachments, in one PDF.

    cover (1 page, counts everything) ─┐
    letter (n pages)                   │
    reply sheet (fax recipients only)  ├─ pikepdf merge ─> docinfo dated from the
    images → one page each (reportlab) │   referral, deterministic /ID ─> bytes
    PDF attachments, pages as they are ┘                                  └─> SHA-256
    every enclosure page stamped: "Referral RF-… · packet page x of y" (bottom right)

The same referral always yields the same bytes: reportlab runs with
``invariant=1``, the PDF's dates come from the referral (never the clock),
and qpdf writes a content-derived /ID. That is what lets us store only the
hash and re-render at send time: :func:`referral.cases.verify_packet` checks
that what goes out is exactly what the referrer approved.

A packet for a fax number carries the reply sheet right after the letter, so
the office can answer by fax (:mod:`referral.documents.reply_sheet`); a
Matrix recipient answers with commands and gets none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO

import pikepdf
from PIL import Image, ImageOps
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from referral.documents.content import AttachmentFile, ReferralDocument
from referral.documents.cover_sheet import render_cover_sheet
from referral.documents.letter import render_letter
from referral.documents.reply_sheet import render_reply_sheet
from referral.documents.style import MARGIN, PAGE, SMALL, black, white


@dataclass(frozen=True, slots=True)
class Packet:
    """A rendered packet and the facts stored about it."""

    referral_id: str
    data: bytes
    pages: int
    letter_pages: int
    attachment_pages: int
    reply_pages: int = 0  # the fax-back reply sheet (fax recipients only)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sha1(self) -> str:
        """FHIR ``Attachment.hash`` is SHA-1 (base64 there; hex here)."""
        return hashlib.sha1(self.data, usedforsecurity=False).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def filename(self) -> str:
        return f"referral-{self.referral_id}.pdf"


def image_page(attachment: AttachmentFile) -> bytes:
    """One Letter page with the image fitted inside the margins, in greyscale.

    Colour scans become greyscale here (the fax line makes them 1-bit later);
    EXIF rotation is applied so a phone photo of a document stands upright.
    """
    with Image.open(BytesIO(attachment.data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("L")
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, invariant=1)
    width, height = PAGE
    box_w, box_h = width - 2 * MARGIN, height - 2 * MARGIN - 20
    scale = min(box_w / image.width, box_h / image.height)
    draw_w, draw_h = image.width * scale, image.height * scale
    canvas.drawImage(
        ImageReader(image),
        MARGIN + (box_w - draw_w) / 2,
        MARGIN + (box_h - draw_h),
        draw_w,
        draw_h,
    )
    canvas.setFillColor(black)
    canvas.setFont("Helvetica", SMALL.fontSize)
    canvas.drawString(MARGIN, height - MARGIN - 10, f"Enclosure: {attachment.filename}")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def attachment_pdf(attachment: AttachmentFile) -> bytes:
    """The attachment as PDF pages (PDFs pass through, images get a page each)."""
    if attachment.content_type == "application/pdf":
        return attachment.data
    return image_page(attachment)


STAMP_HEIGHT = 16  # points of white band behind the stamp, at the page's foot
STAMP_FROM_BOTTOM = 14  # clear of the fax machine's own header line at the top


def enclosure_stamp(width: float, height: float, text: str) -> bytes:
    """A transparent page of ``width`` x ``height`` with ``text`` bottom right on white."""
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=(width, height), invariant=1)
    size = SMALL.fontSize
    text_width = canvas.stringWidth(text, "Helvetica-Bold", size)
    right = width - min(MARGIN, width / 10)
    canvas.setFillColor(white)
    canvas.rect(right - text_width - 6, STAMP_FROM_BOTTOM - 4, text_width + 12, STAMP_HEIGHT,
                stroke=0, fill=1)
    canvas.setFillColor(black)
    canvas.setFont("Helvetica-Bold", size)
    canvas.drawRightString(right, STAMP_FROM_BOTTOM, text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


STAMP_NAME = pikepdf.Name("/CurbsideStamp")


def _stamp_enclosures(merged: pikepdf.Pdf, first: int, referral_id: str) -> list[pikepdf.Pdf]:
    """Referral id and "packet page x of y" on every enclosure page (0-based ``first`` on).

    A loose lab report that falls out of the packet still says which referral
    it belongs to. The stamp is a form XObject under a fixed name drawn after
    the page's own content, which is wrapped in q/Q so its graphics state
    cannot move the stamp (pikepdf's ``add_overlay`` names it at random, and
    the packet's bytes must not change between renders). Returns the stamp
    documents, to be closed after saving.
    """
    total = len(merged.pages)
    stamps = []
    for index in range(first, total):
        page = merged.pages[index]
        x0, y0, x1, y1 = (float(v) for v in page.mediabox)
        text = f"Referral {referral_id} · packet page {index + 1} of {total}"
        stamp = pikepdf.open(BytesIO(enclosure_stamp(x1 - x0, y1 - y0, text)))
        stamps.append(stamp)
        form = merged.copy_foreign(stamp.pages[0].as_form_xobject())
        page.add_resource(form, pikepdf.Name.XObject, STAMP_NAME)
        page.contents_add(pikepdf.Stream(merged, b"q\n"), prepend=True)
        draw = f"\nQ q 1 0 0 1 {x0:g} {y0:g} cm {STAMP_NAME} Do Q\n".encode()
        page.contents_add(pikepdf.Stream(merged, draw))
    return stamps


def count_pages(pdf: bytes) -> int:
    with pikepdf.open(BytesIO(pdf)) as document:
        return len(document.pages)


def pdf_date(moment: datetime) -> str:
    """PDF date string (ISO 32000 7.9.4), in UTC."""
    return moment.astimezone(UTC).strftime("D:%Y%m%d%H%M%SZ")


def build_packet(doc: ReferralDocument, *, reply_sheet: bool | None = None) -> Packet:
    """Render and merge; deterministic for a given ``doc``.

    ``reply_sheet``: whether to include the fax-back reply sheet (default: for
    a fax recipient). False re-renders a fax packet sealed before the sheet
    existed, so its stored hash still verifies.
    """
    letter = render_letter(doc)
    letter_pages = count_pages(letter)
    enclosures = [attachment_pdf(a) for a in doc.attachments]
    enclosure_pages = sum(count_pages(pdf) for pdf in enclosures)
    with_sheet = doc.recipient_is_fax if reply_sheet is None else reply_sheet
    replies = [render_reply_sheet(doc)] if with_sheet else []
    total = 1 + letter_pages + len(replies) + enclosure_pages
    cover = render_cover_sheet(doc, total)

    merged = pikepdf.new()
    parts = (cover, letter, *replies, *enclosures)
    sources = [pikepdf.open(BytesIO(part)) for part in parts]
    try:
        for source in sources:
            merged.pages.extend(source.pages)
        sources += _stamp_enclosures(merged, 1 + letter_pages, doc.referral_id)
        stamp = pdf_date(doc.document_date)
        merged.docinfo["/Title"] = f"Referral {doc.referral_id}"
        merged.docinfo["/Creator"] = "Curbside"
        merged.docinfo["/Producer"] = "Curbside (reportlab, pikepdf)"
        merged.docinfo["/CreationDate"] = stamp
        merged.docinfo["/ModDate"] = stamp
        out = BytesIO()
        merged.save(out, deterministic_id=True, compress_streams=True)
    finally:
        for source in sources:
            source.close()
        merged.close()
    return Packet(
        referral_id=doc.referral_id,
        data=out.getvalue(),
        pages=total,
        letter_pages=letter_pages,
        attachment_pages=enclosure_pages,
        reply_pages=len(replies),
    )
