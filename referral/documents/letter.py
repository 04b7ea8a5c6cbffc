"""The referral letter: who, to whom, why, what is asked — with page numbers and a QR code.

    header  title · referring organisation · QR code (referral id only) · urgency
    body    urgency banner │ Patient │ Referring clinician (NPI) │ Recipient │
            Reason + ICD-10-CM codes with their descriptions │ Clinical question │
            Consent │ Enclosures — label/value pairs two to a line, so it fits one page
    footer  referral id · confidentiality line · "Page x of y"

"Page x of y" needs the page count before the last page is known, so the
canvas keeps each page's state and draws the footers when the document is
saved (two passes over the kept pages, one layout).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Table,
    TableStyle,
)

from curbside.phones import display
from referral.documents.content import URGENCY_LABELS, ReferralDocument, format_date
from referral.documents.style import (
    BODY,
    HEADING,
    INVERSE,
    LABEL,
    MARGIN,
    PAGE,
    RULE,
    SMALL,
    TITLE,
    black,
)
from referral.icd10 import describe

QR_SIZE = 1.1 * inch
HEADER_HEIGHT = 1.45 * inch
FOOTER_HEIGHT = 0.5 * inch
FRAME_PADDING = 6  # platypus frames pad their content by 6 pt on every side


def _p(text: str, style: Any = BODY) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


_FIELD_STYLE = TableStyle(
    [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
    ]
)
_INNER = PAGE[0] - 2 * MARGIN


def _fields(rows: list[tuple[str, str]], label_width: float = 1.9 * inch) -> Table:
    table = Table(
        [[_p(label, LABEL), _p(value)] for label, value in rows],
        colWidths=[label_width, _INNER - label_width],
    )
    table.setStyle(_FIELD_STYLE)
    return table


def _grid(rows: list[tuple[str, str]]) -> Table:
    """Label/value pairs two to a line: a letter that fits on one page."""
    label, value = 1.05 * inch, _INNER / 2 - 1.05 * inch
    cells = [_cell for pair in rows for _cell in (_p(pair[0], LABEL), _p(pair[1]))]
    lines = [cells[i : i + 4] for i in range(0, len(cells), 4)]
    lines[-1] += [""] * (4 - len(lines[-1]))
    table = Table(lines, colWidths=[label, value, label, value])
    table.setStyle(_FIELD_STYLE)
    return table


class _Rule(Flowable):
    """A solid rule under a section heading, thick enough to survive a fax."""

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, RULE + 4

    def draw(self) -> None:
        self.canv.setLineWidth(RULE)
        self.canv.setStrokeColor(black)
        self.canv.line(0, RULE, self.width, RULE)


# Tighter than the shared heading: the letter's eight sections fit one page.
SECTION = ParagraphStyle("section", parent=HEADING, spaceBefore=6)


def _section(title: str, *body: Flowable) -> KeepTogether:
    return KeepTogether([_p(title, SECTION), _Rule(), *body])


def _urgency_banner(urgency: str) -> Table:
    """White on solid black for urgent and stat; a plain line for routine."""
    label = URGENCY_LABELS[urgency]
    if urgency == "routine":
        return _fields([("Urgency", label)])
    banner = Table([[_p(f"{label} REFERRAL", INVERSE)]], colWidths=[_INNER])
    banner.setStyle(
        TableStyle([("BACKGROUND", (0, 0), (-1, -1), black), ("LEFTPADDING", (0, 0), (-1, -1), 8)])
    )
    return banner


def _story(doc: ReferralDocument) -> list[Flowable]:
    sender = doc.sender
    recipient = doc.recipient
    where = "Fax" if doc.recipient_is_fax else "Matrix"
    recipient_address = (
        display(recipient.address) if doc.recipient_is_fax else recipient.address
    )
    recipient_rows = [("Name", recipient.name), (where, recipient_address)]
    if recipient.phone:
        recipient_rows.append(("Phone", display(recipient.phone)))
    enclosures = "; ".join(a.filename for a in doc.attachments) or "none"
    consent = (
        f"The referring clinician attests that the patient consented to this referral "
        f"and to sharing the information in it for treatment. Attested by "
        f"{doc.consent_attested_by} on {format_date(doc.consent_attested_at)}."
    )
    return [
        _urgency_banner(doc.urgency),
        _section(
            "Patient",
            _grid(
                [
                    ("Name", doc.patient_name),
                    ("Born", format_date(doc.date_of_birth)),
                    ("Sex", doc.sex.capitalize()),
                    ("MRN", doc.mrn),
                    ("Phone", display(doc.patient_phone)),
                    ("Payer", doc.payer),
                    ("Member ID", doc.member_id),
                ]
            ),
        ),
        _section(
            "Referring clinician",
            _grid(
                [
                    ("Name", f"{doc.referrer_name}, {doc.referrer_credential}".rstrip(", ")),
                    ("NPI", doc.referrer_npi),
                    ("Specialty", doc.referrer_specialty),
                    ("Organization", doc.referring_org_name),
                    ("Phone", display(sender.phone)),
                    ("Fax", display(sender.fax)),
                    ("Matrix", doc.referrer_user_id),
                ]
            ),
        ),
        _section("Referred to", _grid(recipient_rows)),
        _section(
            "Reason for referral",
            _p(doc.reason),
            _fields(
                [("ICD-10-CM" if i == 0 else "", f"{code}  {describe(code)}")
                 for i, code in enumerate(doc.icd10_codes)],
                label_width=1.05 * inch,
            ),
        ),
        _section("Clinical question", _p(doc.clinical_question)),
        _section("Patient consent", _p(consent)),
        _section("Enclosures", _p(enclosures)),
    ]


def _draw_header(canvas: Canvas, doc: ReferralDocument) -> None:
    width, height = PAGE
    top = height - MARGIN
    canvas.setFillColor(black)
    canvas.setFont(TITLE.fontName, TITLE.fontSize)
    canvas.drawString(MARGIN, top - 20, "Referral")
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(MARGIN, top - 40, doc.referring_org_name)
    canvas.setFont("Helvetica", 11)
    canvas.drawString(
        MARGIN,
        top - 56,
        f"Phone {display(doc.sender.phone)}   Fax {display(doc.sender.fax)}",
    )
    canvas.drawString(MARGIN, top - 72, f"Date {format_date(doc.document_date)}")
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(MARGIN, top - 90, f"Referral ID {doc.referral_id}")
    widget = QrCodeWidget(doc.qr_payload, barLevel="M", barBorder=0)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(
        QR_SIZE, QR_SIZE, transform=[QR_SIZE / (x1 - x0), 0, 0, QR_SIZE / (y1 - y0), 0, 0]
    )
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, width - MARGIN - QR_SIZE, top - QR_SIZE)
    canvas.setFont("Helvetica", 10)
    canvas.drawRightString(width - MARGIN, top - QR_SIZE - 12, doc.referral_id)
    canvas.setLineWidth(RULE * 1.5)
    canvas.line(
        MARGIN,
        height - HEADER_HEIGHT - MARGIN + 6,
        width - MARGIN,
        height - HEADER_HEIGHT - MARGIN + 6,
    )


class _NumberedCanvas(Canvas):
    """Keeps each page's state so the footer can say "Page x of y"."""

    referral_id = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._footer(number, total)
            super().showPage()
        super().save()

    def _footer(self, number: int, total: int) -> None:
        width = PAGE[0]
        y = MARGIN - 14
        self.setLineWidth(RULE)
        self.setStrokeColor(black)
        self.line(MARGIN, y + 14, width - MARGIN, y + 14)
        self.setFillColor(black)
        self.setFont("Helvetica", SMALL.fontSize)
        self.drawString(MARGIN, y, f"Referral {self.referral_id} · Confidential health information")
        self.setFont("Helvetica-Bold", SMALL.fontSize)
        self.drawRightString(width - MARGIN, y, f"Page {number} of {total}")


def render_letter(doc: ReferralDocument) -> bytes:
    """The letter as PDF bytes; identical input gives identical bytes."""
    buffer = BytesIO()
    canvas_class = type("_LetterCanvas", (_NumberedCanvas,), {"referral_id": doc.referral_id})
    template = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN - FRAME_PADDING,
        rightMargin=MARGIN - FRAME_PADDING,
        topMargin=MARGIN + HEADER_HEIGHT,
        bottomMargin=MARGIN + FOOTER_HEIGHT,
        title=f"Referral {doc.referral_id}",
        author=doc.referring_org_name,
        creator="Curbside",
        invariant=1,
    )
    template.build(
        _story(doc),
        onFirstPage=lambda canvas, _: _draw_header(canvas, doc),
        onLaterPages=lambda canvas, _: _draw_continuation(canvas, doc),
        canvasmaker=canvas_class,
    )
    return buffer.getvalue()


def _draw_continuation(canvas: Canvas, doc: ReferralDocument) -> None:
    """Later pages name the referral and the patient so a loose page finds its packet."""
    width, height = PAGE
    top = height - MARGIN
    canvas.setFillColor(black)
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(MARGIN, top - 14, f"Referral {doc.referral_id} (continued)")
    canvas.setFont("Helvetica", 11)
    canvas.drawString(
        MARGIN, top - 30, f"{doc.patient_name} · born {format_date(doc.date_of_birth)}"
    )
    canvas.setLineWidth(RULE * 1.5)
    canvas.line(
        MARGIN,
        height - HEADER_HEIGHT - MARGIN + 6,
        width - MARGIN,
        height - HEADER_HEIGHT - MARGIN + 6,
    )
