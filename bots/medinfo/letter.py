"""The medical-information response letter: the sponsor's written answer as a PDF.

    request (reference, product, screened question, requester as the sponsor sees it)
      + MSL thread (answer messages in order, attached document names, responder role)
      + sponsor config (name, PV contact, responder contact if configured)
      ──compose──> Letter ──render──> PDF bytes (deterministic for the same Letter)

A clinician who chose "letter" gets this alongside the relayed chat text. The
addressee line is the requester string of the thread root, so the letter
names the clinician (and NPI) exactly when the sponsor's room did: only with
consent. Nothing here reads a clock or a random source — the date is part of
the data — and reportlab runs in invariant mode, so the same inputs give the
same bytes and a disclosure audited by its hash can be re-created later.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

from bots.medinfo.intake import Draft
from bots.medinfo.sponsors import Sponsor

MIMETYPE = "application/pdf"
SUBJECT = "Response to your unsolicited request for medical information"
ROLE_LABELS = {"msl": "Medical Science Liaison", "medical_information": "Medical Information"}
FONT, BOLD = "CurbsideLetter", "CurbsideLetter-Bold"
# Bitstream Vera ships inside reportlab, so the letter embeds its own font: it prints
# the same everywhere and covers the signs answers use (≥, ≤, ±, µ) beyond Latin-1.
_FONT_DIR = Path(reportlab.__file__).parent / "fonts"
for _name, _file in ((FONT, "Vera.ttf"), (BOLD, "VeraBd.ttf")):
    pdfmetrics.registerFont(TTFont(_name, str(_FONT_DIR / _file)))
BODY_SIZE, FOOTER_SIZE = 10.5, 10.0  # never under 10 pt: letters are printed and faxed


def disclaimer_lines(sponsor_name: str, pv_contact: str, reference: str) -> tuple[str, ...]:
    """The standard lines every medical-information response carries."""
    report_to = pv_contact or (
        f"{sponsor_name}'s pharmacovigilance department through your Curbside request "
        f"thread (reference {reference}); safety information written there is forwarded "
        "to them at once")
    return (
        "This information is provided in response to your unsolicited request. It may "
        "include information about uses that are not in the approved prescribing "
        "information; it is not a recommendation to use a product in any such way.",
        "Please refer to the full prescribing information before prescribing any product "
        "named in this letter.",
        f"To report an adverse event or a product complaint, contact {report_to}.",
    )


@dataclass(frozen=True, slots=True)
class Letter:
    """Everything printed on one letter; no field is read from anywhere else."""

    sponsor_name: str
    reference: str
    dated: date
    addressee: str
    products: tuple[str, ...]
    question: str
    answers: tuple[str, ...]
    documents: tuple[str, ...]
    responder: str
    disclaimer: tuple[str, ...]

    @property
    def filename(self) -> str:
        return f"{self.reference}-response-letter.pdf"


def responder_line(sponsor: Sponsor, user_id: str) -> str:
    """The responder by role; a personal contact only when the sponsor configured one."""
    member = next((m for m in sponsor.members if m.user_id == user_id), None)
    role = ROLE_LABELS.get(member.role if member else "", "Medical team")
    line = f"{role}, {sponsor.name}"
    return f"{line} — contact: {member.contact}" if member and member.contact else line


def compose(sponsor: Sponsor, *, reference: str, dated: date, addressee: str, draft: Draft,
            answers: Sequence[str], documents: Sequence[str], responder: str) -> Letter:
    """A letter for one request; ``addressee`` is the thread root's requester string."""
    products = () if draft.product is None else (
        f"{draft.product.brand} ({draft.product.generic})",)
    return Letter(
        sponsor_name=sponsor.name, reference=reference, dated=dated, addressee=addressee,
        products=products, question=draft.question, answers=tuple(answers),
        documents=tuple(documents), responder=responder_line(sponsor, responder),
        disclaimer=disclaimer_lines(sponsor.name, sponsor.pv_contact, reference),
    )


# -- rendering ---------------------------------------------------------------------

_BODY = ParagraphStyle("body", fontName=FONT, fontSize=BODY_SIZE, leading=BODY_SIZE * 1.35,
                       textColor=colors.black, spaceAfter=6)
_LABEL = ParagraphStyle("label", parent=_BODY, fontName=BOLD, spaceBefore=8, spaceAfter=3)
_SUBJECT = ParagraphStyle("subject", parent=_BODY, fontName=BOLD, fontSize=12, leading=16,
                          spaceBefore=10, spaceAfter=10)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=FOOTER_SIZE, leading=FOOTER_SIZE * 1.3,
                        spaceAfter=4)


def _text(value: str) -> str:
    """Plain text as reportlab paragraph markup (escaped, line breaks kept)."""
    return escape(value).replace("\n", "<br/>")


def _story(letter: Letter) -> list[Flowable]:
    story: list[Flowable] = [
        Paragraph(f"{letter.dated.day} {letter.dated:%B %Y}", _BODY),
        Paragraph(f"Reference: {_text(letter.reference)}", _BODY),
        Paragraph(f"To: {_text(letter.addressee)}", _BODY),
        Paragraph(_text(SUBJECT), _SUBJECT),
        Paragraph("Product" + ("s" if len(letter.products) > 1 else ""), _LABEL),
        Paragraph(_text("; ".join(letter.products) or "not specified"), _BODY),
        Paragraph("Your question", _LABEL),
        Paragraph(_text(letter.question), _BODY),
        Paragraph("Our response", _LABEL),
    ]
    story += [Paragraph(_text(answer), _BODY) for answer in letter.answers]
    if not letter.answers:
        story.append(Paragraph("Please see the documents listed below, sent in your request "
                               "thread.", _BODY))
    if letter.documents:
        story.append(Paragraph("Documents sent in your request thread", _LABEL))
        story += [Paragraph(f"• {_text(name)}", _BODY) for name in letter.documents]
    story += [
        Spacer(1, 8),
        Paragraph("Responded by", _LABEL),
        Paragraph(_text(letter.responder), _BODY),
        Spacer(1, 10),
    ]
    story += [Paragraph(_text(line), _SMALL) for line in letter.disclaimer]
    return story


def _build(letter: Letter, total_pages: int) -> tuple[bytes, int]:
    """One layout pass; returns the PDF and how many pages it took."""
    buffer = io.BytesIO()
    pages = [0]

    def decorate(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        pages[0] = doc.page
        width, height = LETTER
        canvas.saveState()
        canvas.setFillColor(colors.black)
        canvas.setStrokeColor(colors.black)
        canvas.setFont(BOLD, 14)
        canvas.drawString(inch, height - 0.75 * inch, letter.sponsor_name)
        canvas.setFont(FONT, FOOTER_SIZE)
        canvas.drawString(inch, height - 0.75 * inch - 14, "Medical Information")
        canvas.line(inch, height - 0.75 * inch - 22, width - inch, height - 0.75 * inch - 22)
        canvas.drawString(inch, 0.6 * inch, letter.reference)
        canvas.drawRightString(width - inch, 0.6 * inch,
                               f"Page {doc.page} of {total_pages or doc.page}")
        canvas.restoreState()

    document = SimpleDocTemplate(
        buffer, pagesize=LETTER, invariant=1, leftMargin=inch, rightMargin=inch,
        topMargin=1.4 * inch, bottomMargin=inch, title=f"{letter.reference} — {SUBJECT}",
        author=f"{letter.sponsor_name} Medical Information", subject=SUBJECT,
        creator="Curbside medical-information desk", producer="Curbside",
    )
    document.build(_story(letter), onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue(), pages[0]


def render(letter: Letter) -> bytes:
    """The letter as PDF; laid out twice so every page can say "Page x of y"."""
    _, total = _build(letter, 0)
    pdf, _ = _build(letter, total)
    return pdf
