"""The fax-back reply sheet: one page the receiving office ticks and faxes back.

It carries the referral id (as text and as a QR code, no patient data), four
tick boxes with lines for a reason, bubbles for the appointment's date and
time, and the instruction to put the consult note behind it. Everything is
drawn from :mod:`referral.documents.reply_layout`, the table the reader
aligns against; boxes are bold, text is at least 10 pt and the four corner
fiducials are solid, so the page survives two fax passes and a photocopier.
"""

from __future__ import annotations

from io import BytesIO

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.pdfgen.canvas import Canvas

from curbside.phones import display
from referral.documents import reply_layout as layout
from referral.documents.content import ReferralDocument
from referral.documents.style import MIN_POINTS, PAGE, RULE, black


def reply_qr_payload(referral_id: str) -> str:
    """What the sheet's QR code encodes: our prefix and the referral id, never PHI."""
    return f"{layout.QR_PREFIX}{referral_id}"


def _y(top: float) -> float:
    """reportlab's y (from the bottom) for a distance from the top."""
    return layout.PAGE_HEIGHT - top


def _text(canvas: Canvas, x: float, top: float, text: str, size: float,
          bold: bool = False) -> None:
    canvas.setFont("Helvetica-Bold" if bold else "Helvetica", max(size, MIN_POINTS))
    canvas.drawString(x, _y(top), text)


def _rect(canvas: Canvas, rect: layout.Rect, line: float, fill: bool = False) -> None:
    canvas.setLineWidth(line)
    canvas.rect(rect.left, _y(rect.top + rect.height), rect.width, rect.height,
                stroke=1, fill=1 if fill else 0)


def _fiducials(canvas: Canvas) -> None:
    half = layout.FIDUCIAL_SIZE / 2
    for x, y in layout.FIDUCIALS:
        canvas.rect(x - half, _y(y + half), layout.FIDUCIAL_SIZE, layout.FIDUCIAL_SIZE,
                    stroke=0, fill=1)


def _qr(canvas: Canvas, referral_id: str) -> None:
    left, top, side = layout.QR_BOX
    widget = QrCodeWidget(reply_qr_payload(referral_id), barLevel="M", barBorder=0)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, left, _y(top + side))
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawCentredString(left + side / 2, _y(top + side + 14), referral_id)


def _header(canvas: Canvas, doc: ReferralDocument) -> None:
    left = layout.CONTENT_LEFT
    _text(canvas, left, 86, "FAX-BACK REPLY", 22, bold=True)
    _text(canvas, left, 110, f"Referral {doc.referral_id}", 16, bold=True)
    _text(canvas, left, 130, f"To: {doc.sender.organisation}", 11)
    _text(canvas, left, 146, f"Fax this page back to {display(doc.sender.fax)}", 12, bold=True)
    _text(canvas, left, 166, "Tick the boxes that apply with a dark pen.", 11)
    _text(canvas, left, 180, "Keep writing inside the lines.", 11)


def _tick_boxes(canvas: Canvas) -> None:
    for tick in layout.TICK_BOXES:
        _rect(canvas, tick.box, layout.BOX_LINE)
        _text(canvas, tick.box.left + 32, tick.box.top + 16, tick.label, 13, bold=True)
        if tick.lines is None:
            continue
        canvas.setLineWidth(RULE)
        lines = tick.lines
        y = lines.top + layout.WRITING_LINE_PITCH
        while y <= lines.top + lines.height:
            canvas.line(lines.left, _y(y), lines.left + lines.width, _y(y))
            y += layout.WRITING_LINE_PITCH


def _digit_fields(canvas: Canvas) -> None:
    radius = layout.BUBBLE_DIAMETER / 2
    for field in layout.DIGIT_FIELDS:
        x, _ = layout.bubble_centre(field, 0, 0)
        _text(canvas, x - 9, layout.DIGIT_LABEL_TOP, field.label, 10, bold=True)
        for column in (0, 1):
            _rect(canvas, layout.write_in_cell(field, column), RULE)
            canvas.setLineWidth(layout.BUBBLE_LINE)
            for digit in range(10):
                cx, cy = layout.bubble_centre(field, column, digit)
                canvas.circle(cx, _y(cy), radius, stroke=1, fill=0)
        # the row's digit, left of the tens column (never inside a bubble)
        canvas.setFont("Helvetica-Bold", 10)
        for digit in range(10):
            cx, cy = layout.bubble_centre(field, 0, digit)
            canvas.drawRightString(cx - radius - 4, _y(cy + 3.5), str(digit))
    month, _day, hour, _minute = layout.DIGIT_FIELDS
    _text(canvas, layout.bubble_centre(month, 1, 0)[0] + 30, layout.WRITE_IN_TOP + 17, "/", 14,
          bold=True)
    _text(canvas, layout.bubble_centre(hour, 1, 0)[0] + 30, layout.WRITE_IN_TOP + 17, ":", 14,
          bold=True)


def _footer(canvas: Canvas, doc: ReferralDocument) -> None:
    left = layout.CONTENT_LEFT
    _text(canvas, left, layout.NOTE_LINE_TOP, "ATTACH THE CONSULT NOTE BEHIND THIS PAGE", 14,
          bold=True)
    _text(canvas, left, layout.NOTE_LINE_TOP + 16,
          "Pages behind this sheet reach the referring clinician as the consult note.", 10)
    _text(canvas, left, layout.NOTE_LINE_TOP + 30,
          f"Questions: call {display(doc.sender.phone)} and quote {doc.referral_id}.", 10)


def render_reply_sheet(doc: ReferralDocument) -> bytes:
    """One page as PDF bytes; identical input gives identical bytes."""
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, invariant=1)
    canvas.setTitle(f"Fax-back reply {doc.referral_id}")
    canvas.setCreator("Curbside")
    canvas.setFillColor(black)
    canvas.setStrokeColor(black)
    _fiducials(canvas)
    _qr(canvas, doc.referral_id)
    _header(canvas, doc)
    _tick_boxes(canvas)
    _digit_fields(canvas)
    _footer(canvas, doc)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
